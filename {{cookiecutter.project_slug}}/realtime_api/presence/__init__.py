"""Presence: `join`, `leave` and `signal` (PROTOCOL.md "Presence").

`requests` serves a socket's presence frames, `hub` keeps this process's
rooms and sends their events in batches, `store` is where presence lives for
every process (Redis, or memory in one process).

Imports: `conf`, `ops`, `protocol`, `streams.endpoints` and
`delivery.changes`; never `sockets`.
"""
