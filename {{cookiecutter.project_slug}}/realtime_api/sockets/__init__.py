"""Sockets: the Channels consumer of one socket and what it keeps.

`demultiplexer.APIDemultiplexer` is the consumer: the `frame_reader` around
it (routing.py) takes its frames from the server as they arrive and hands
them to its `inbox`; it sends through the `outbox` (bounded, as
`server_transport` reports what the server still holds), and serves
requests, `subscriptions` and `watch` live queries for its streams. The
parts mixed into it (those two, limits' overload, presence's requests,
auth's reauthenticate) use only what `contract` says the consumer offers.
`autobahn_config_log` spares daphne's handshakes a DEBUG line's text.

Imports: everything below it (`streams`, `delivery`, `auth`, `limits`,
`presence`, `ops`, `protocol`, `conf`); only `routing` and the front door
import it.
"""
