"""A Python client of the realtime API (realtime_api/PROTOCOL.md), on asyncio.

    async with RealtimeClient("ws://127.0.0.1:8000/ws/", token=KEY) as client:
        created = await client.request("topics", "create", payload={"title": "Hi"})
        comments = await client.watch("comments", {"topic": created["data"]["id"]})
        print(comments.items)  # the list, kept up to date and in order
        async for change in comments:  # enter, update, leave; reset after a reconnect
            print(change.action, change.item)

    here = await client.presence("topics", 3)  # who else is on topic 3
    print(here.members)  # [{"id": 7, "name": "alice"}, ...], kept up to date
    await here.signal({"typing": True})  # to the others present, never stored

Authenticate with `token` (sends `Authorization: Token <key>`), `authorization`
(any header value, e.g. "Bearer <jwt>"), `cookie` (a browser session's
cookies) or `ticket` (a ticket from POST /api/realtime/ticket/, or a function
returning a fresh one for each connection). Without a header the client sends
an Origin: the server's own unless `origin` says otherwise.

After any close (4001 when the user's session or token changed, 4009 when it
read too slowly, a server restart) the client reconnects with exponential
backoff and jitter (5 s at least after 4008: it sent too fast), subscribes
again with `since` (the server replays what was missed) and reads each live
query afresh. The backoff starts again from its shortest wait only after a
socket stayed open `stable_after` seconds (STABLE_AFTER, 5). A reconnect
refused with HTTP 429 or 503 waits the server's Retry-After plus jitter and
tries again; 403 (a revoked token) ends it: waiting calls raise
HandshakeRefused (PROTOCOL.md, "Reconnecting clients").

On the command line (prints what changes, one JSON object a line):

    python -m realtime_api.client ws://127.0.0.1:8000/ws/ --token KEY \\
        comments watch '{"topic": 1}'

Needs the `websockets` package: pip install -e ".[client]". This package has
no other dependency: copy its folder into any Python 3.11+ program.

Imports: nothing else of realtime_api, nor Django.

Its modules, one job each:

    realtime_client.py  RealtimeClient: the socket's life, reconnects, requests
    standing.py         what it sends again on each socket, where events go
    feeds.py            what it delivers: Subscription, LiveQuery, Presence
    ordering.py         a live query's order, as the server sorts
    frames.py           request frames, responses matched to their requests
    connection.py       opening one authenticated socket
    backoff.py          when to reconnect: Backoff, STABLE_AFTER
    errors.py           RealtimeError, RequestError, HandshakeRefused
    __main__.py         the command line
"""

from .backoff import FLOODING, FLOODING_DELAY, STABLE_AFTER, Backoff
from .connection import open_socket, origin_of
from .errors import HandshakeRefused, RealtimeError, RequestError
from .feeds import Change, LiveQuery, Presence, Subscription, member_order
from .frames import checked, request_frame, stable_json
from .ordering import ISO_DATETIME, compare_values, datetime_key, ordering_compare
from .realtime_client import STATES, RealtimeClient

__all__ = [
    "FLOODING",
    "FLOODING_DELAY",
    "ISO_DATETIME",
    "STABLE_AFTER",
    "STATES",
    "Backoff",
    "Change",
    "HandshakeRefused",
    "LiveQuery",
    "Presence",
    "RealtimeClient",
    "RealtimeError",
    "RequestError",
    "Subscription",
    "checked",
    "compare_values",
    "datetime_key",
    "member_order",
    "open_socket",
    "ordering_compare",
    "origin_of",
    "request_frame",
    "stable_json",
]
