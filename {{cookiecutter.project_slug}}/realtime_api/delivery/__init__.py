"""Delivery: from a save to the sockets of every process.

`broadcast` turns model signals into `changes` after commit; the `publisher`
logs each under its stream's next `seq` (`eventlog`) and sends it over the
channel layer; the `hub` of each process evaluates it once per `audience`
(the sockets that see the same objects the same way) and hands the frames
to the sockets.

Imports: `conf`, `ops`, `streams` (the registry and view threads) and
`auth.identity` (the user as stored now); never `sockets`.
"""
