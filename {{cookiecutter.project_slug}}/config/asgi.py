"""The ASGI application: Django for HTTP, the realtime API for WebSockets.

Serve it with `daphne config.asgi:application` (or `manage.py runserver`,
which is daphne's in development).
https://channels.readthedocs.io/en/stable/topics/routing.html
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

# Build the Django application first: it sets Django up (settings, app
# registry), which the imports below need because they load models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime_api.auth import RealtimeAuthMiddlewareStack  # noqa: E402
from realtime_api.handshake_guard import HandshakeGuard  # noqa: E402
from realtime_api.routing import websocket_urlpatterns  # noqa: E402
from realtime_api.server_transport import ServerTransportMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The user comes from an Authorization header (DRF's authentication
        # classes), a one-time ticket, or the session cookie from an allowed
        # Origin; anything else refused is an HTTP 403 (realtime_api/auth.py).
        # Outermost: what the server exposes of each socket's send buffer,
        # to bound the bytes queued for a slow reader (4009). Then a Host
        # outside ALLOWED_HOSTS or an unrouted path is refused before any
        # authentication, with one log line (realtime_api/handshake_guard.py).
        "websocket": ServerTransportMiddleware(
            HandshakeGuard(
                RealtimeAuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
                websocket_urlpatterns,
            )
        ),
    }
)
