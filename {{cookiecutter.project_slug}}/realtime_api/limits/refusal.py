"""Refuse a WebSocket handshake with an HTTP status and headers, on any server.

ASGI lets an application answer a handshake with an HTTP response only
through the "websocket.http.response" extension, which uvicorn offers and
daphne does not. On daphne the Twisted protocol (autobahn) that holds the
pending handshake is asked to send the response, as autobahn does itself for
a handshake it fails; without either, a close before accept is all an
application can say, and servers answer it 403.
"""

import json
import logging
import math
import time
from collections import Counter
from http import HTTPStatus
from typing import Any

from realtime_api.sockets.server_transport import transport_of


async def refuse_with_status(scope, send, status, headers=(), detail=""):
    """Answer the handshake `status` with `headers` (name, value) where possible.

    Call it after the application received "websocket.connect". `detail` is
    the JSON body's "detail" where the server sends a body (uvicorn).
    """
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = json.dumps({"detail": detail}).encode() if detail else b""
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers]
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [
                    *encoded,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    if deny_on_twisted(scope, status, headers):
        return
    await send({"type": "websocket.close"})  # Before accept: the server answers 403.


def deny_on_twisted(scope, status, headers=()):
    """Answer daphne's pending handshake `status`; False when not on daphne."""
    protocol: Any = getattr(transport_of(scope), "protocol", None)
    deferred = getattr(protocol, "handshake_deferred", None)
    if deferred is None or not hasattr(protocol, "sendHttpErrorResponse"):
        return False
    # What daphne's serverReject() does, with our status and headers.
    del protocol.handshake_deferred
    protocol.sendHttpErrorResponse(status, HTTPStatus(status).phrase, list(headers))
    protocol.dropConnection(abort=False)
    protocol.server.protocol_disconnected(protocol)
    return True


class Refusal:
    """An HTTP answer to a handshake: status, Retry-After, what to tell."""

    def __init__(self, status, retry_after, kind, detail):
        self.status = status
        self.retry_after = retry_after  # Whole seconds.
        self.kind = kind  # The metric's label and the log's word.
        self.detail = detail


class RefusalLog:
    """One line a second at most, counting the refusals since the last.

    A flood of handshakes must not become a flood of log lines: each kind
    of refusal writes at most one line a second to `logger`, at `level`.
    """

    def __init__(self, logger, level=logging.INFO, clock=time.monotonic):
        self.logger = logger
        self.level = level
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.logged_at = -math.inf

    def refused(self, refusal):
        self.counts[f"{refusal.status} {refusal.kind}"] += 1
        now = self.clock()
        if now - self.logged_at < 1:
            return
        said = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        self.logger.log(
            self.level, "WebSocket handshakes refused (%s): %s", said, refusal.detail
        )
        self.counts.clear()
        self.logged_at = now
