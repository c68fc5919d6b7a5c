"""Auth: who opens a socket, and what their credentials hold now.

`handshake` authenticates a socket (an `Authorization` header in the `pool`
of threads, a ticket, or the session cookie from an `origins` the CSRF check
accepts; `basic` counts HTTP's wrong Basic passwords as the socket's);
`tickets` issues and redeems one-time tickets; `expiry` and
`reauthenticate` deal with credentials that expire; `identity` keeps each
socket's user as stored now; `revocation` closes sockets (4001) when their
credentials end.

Imports: `conf`, `models`, `protocol`, `streams` (request building, view
threads), `delivery` (the recheck a changed user needs) and
`limits` (a wrong password counts against its address; the guard's 429),
and `sockets.server_transport` (whether a waiting handshake's client left).
"""
