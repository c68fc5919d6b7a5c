"""Streams: the DRF views a project serves over the socket, and how.

An `Endpoint` names a view; the `Registry` (config/realtime.py) holds them.
`actions` is the one table of what a stream serves (the built-in actions and
the view's `@action`s), `view_adapter` what the socket needs to know of a
view, `request_factory` the Django request a frame stands for,
`subscription_filters` a subscribe payload, `view_threads` where views run
(in turns round the users: `fair_turns`).

Imports: `conf`, `protocol`, `runtime` and `delivery.changes` (the object
keys of a change); nothing that holds a socket.
"""
