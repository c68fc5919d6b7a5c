"""The front door: what a project imports from the realtime app.

`config/`, the sample app and the README import from here (and their tests
from `realtime_api.testing`); a ruff rule in pyproject.toml keeps it so. The
settings are the exception: they read REDIS_URL with ops.redis_connection
before Django is set up, and name four classes by their own module path
(DRF and Django import those while their own modules load, before this
module could be). The rest of the package is the app's own: the
README's "The realtime app, package by package" is its map.
"""

from asgiref.typing import ASGI3Application
from channels.routing import URLRouter

from realtime_api.auth.handshake import RealtimeAuthMiddlewareStack
from realtime_api.auth.revocation import close_user_sockets
from realtime_api.conf import websocket_path
from realtime_api.delivery.broadcast import broadcast
from realtime_api.limits.handshake_guard import HandshakeGuard
from realtime_api.ops.metrics import metrics_view
from realtime_api.routing import websocket_urlpatterns
from realtime_api.sockets.server_transport import ServerTransportMiddleware
from realtime_api.streams.endpoints import Endpoint, Refused
from realtime_api.streams.registry import Registry, get_registry
from realtime_api.streams.search import BoundedSearchFilter
from realtime_api.streams.subscription_filters import Subscription

__all__ = [
    "BoundedSearchFilter",
    "Endpoint",
    "Refused",
    "Registry",
    "Subscription",
    "broadcast",
    "close_user_sockets",
    "get_registry",
    "metrics_view",
    "websocket_application",
    "websocket_path",
]


def websocket_application() -> ASGI3Application:
    """The ASGI application of every WebSocket: config/asgi.py routes to it.

    Outermost, what the server exposes of each socket's send buffer (to bound
    what a slow reader queues: 4009); then a Host outside ALLOWED_HOSTS or an
    unrouted path is refused before any authentication, with one log line;
    then the user comes from an `Authorization` header (DRF's authentication
    classes), a one-time ticket, or the session cookie from an Origin the
    CSRF check accepts, and anything else is refused with HTTP 403.
    """
    return ServerTransportMiddleware(
        HandshakeGuard(
            RealtimeAuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            websocket_urlpatterns,
        )
    )
