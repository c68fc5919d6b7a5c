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

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from realtime_api.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Refuse handshakes from an Origin outside ALLOWED_HOSTS (or with no
        # Origin at all), then put the session's user in scope["user"].
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
