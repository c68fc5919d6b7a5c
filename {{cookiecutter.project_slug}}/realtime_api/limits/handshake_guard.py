"""Refuse, quietly, the handshakes that could only fail later, and loudly.

First of all, a handshake must be admitted (handshake_rate.py): past its
address's rate, HTTP 429; past the handshakes in flight in this process,
HTTP 503; both with Retry-After. Then:

- a Host that is not in ALLOWED_HOSTS: over HTTP, Django answers 400; over
  a socket it was accepted, and each paginated list (which builds links from
  the Host) answered 500 with a traceback per frame;
- a path that no WebSocket route serves: Channels' URLRouter raised, and
  the server logged a ~30-line ERROR traceback per anonymous handshake.

Both are refused before any authentication or database work, with one log
line (WARNING for a Host, as Django's DisallowedHost; INFO for a path), no
traceback. The status is 400 (Host) or 404 (path) where the server lets an
application answer a handshake with an HTTP response (refusal.py: uvicorn
and daphne), else 403.

Last, a Basic password from an address that got too many wrong
(password_failures.py) is refused 429 with Retry-After before it is hashed,
logged as the admission's refusals (one INFO line a second at most).
"""

import logging
from typing import Any

from django.core.exceptions import DisallowedHost

from realtime_api.limits.budgets import with_real_peer
from realtime_api.limits.handshake_rate import Admission
from realtime_api.limits.password_failures import failures
from realtime_api.limits.refusal import refuse_with_status
from realtime_api.streams import request_factory

logger = logging.getLogger(__name__)


class HandshakeGuard:
    """Refuse WebSocket handshakes not admitted, with a bad Host or an unrouted path."""

    def __init__(self, inner: Any, routes: list[Any]) -> None:
        self.inner = inner
        self.routes = routes  # The URLRouter's patterns (path(), re_path()).
        self.admission = Admission()  # One guard per process: its own counts.

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        scope = with_real_peer(scope, send)  # What uvicorn may have made up.
        refusal = self.admission.refusal(scope)
        if refusal is not None:
            return await refuse_with_retry_after(scope, receive, send, refusal)
        handshake = self.admission.track(receive, send)
        # The one frame of ours an open socket keeps: its count of handshakes
        # in flight must end even when the application fails before it
        # accepts or refuses (a frame is cheaper than a leaked count).
        try:
            return await self.checked(scope, handshake)
        finally:
            handshake.done()

    def checked(self, scope, handshake):
        """What serves the socket: a refusal of a bad Host or an unrouted
        path, else the inner application (not awaited here: no frame)."""
        host = bad_host(scope)
        if host is not None:
            logger.warning(
                "WebSocket handshake refused: Host %r is not in ALLOWED_HOSTS.",
                host[:200],
            )
            return refuse(scope, handshake.receive, handshake.send, 400, "Bad Request")
        if not self.routed(scope):
            logger.info(
                "WebSocket handshake refused: no route for path %r.",
                scope.get("path", "")[:200],
            )
            return refuse(scope, handshake.receive, handshake.send, 404, "Not Found")
        refusal = failures.refusal(scope)
        if refusal is not None:
            self.admission.refused(refusal)
            return refuse_with_retry_after(
                scope, handshake.receive, handshake.send, refusal
            )
        return self.inner(scope, UntilDecided(handshake).receive, handshake.send)

    def routed(self, scope):
        """Whether Channels' URLRouter would find a route (its own matching)."""
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        if root_path:
            if not path.startswith(root_path):
                return False
            path = path[len(root_path) :]
        path = path.lstrip("/")
        return any(route.pattern.match(path) for route in self.routes)


class UntilDecided:
    """A socket's `receive`: through the handshake's watch until it is decided,
    then the server's own.

    The application awaits `receive` for as long as the socket is idle: a
    coroutine of ours in between would be one more frame per socket.
    """

    __slots__ = ("handshake",)

    def __init__(self, handshake):
        self.handshake = handshake

    def receive(self):
        handshake = self.handshake
        if handshake.deciding:
            return handshake.receive()
        return handshake.inner_receive()


def bad_host(scope):
    """The handshake's Host when Django would refuse it (DisallowedHost), else None."""
    request = request_factory.build_request(
        request_factory.http_scope(scope), "GET", scope.get("path", "/")
    )
    try:
        request.get_host()
    except DisallowedHost:
        return request.META.get("HTTP_HOST", "")
    return None


async def refuse_with_retry_after(scope, receive, send, refusal):
    """Refuse the handshake as `refusal` says (429 or 503), with Retry-After."""
    await receive()  # websocket.connect
    retry_after = [("Retry-After", str(refusal.retry_after))]
    await refuse_with_status(scope, send, refusal.status, retry_after, refusal.detail)


async def refuse(scope, receive, send, status, detail):
    """Refuse the handshake: `status` where the server can say it, else 403."""
    await receive()  # websocket.connect
    await refuse_with_status(scope, send, status, detail=detail)
