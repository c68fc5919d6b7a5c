"""Limits: what one socket, user or address may cost the server.

`flood` counts a socket's frames (as they arrive: sockets/frame_reader.py
reads them), `budgets` what all of one identity's sockets may hold and
send, `overload` closes a flooder (4008) or a slow reader (4009) and answers
429s, `handshake_guard` refuses handshakes not admitted by `handshake_rate`
(too fast from one address: 429; too many in flight: 503) and those that
could only fail (bad Host, unrouted path) before any authentication;
`refusal` answers a handshake with an HTTP status on daphne and uvicorn.

Imports: `conf`, `ops`, `protocol`, `streams.request_factory` and the
socket's `frame_reader`, `inbox`, `outbox` and `server_transport`.
"""
