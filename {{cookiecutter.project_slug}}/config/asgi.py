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

from channels.routing import ProtocolTypeRouter  # noqa: E402

from realtime_api.api import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Who may open a socket, and what is refused before any work:
        # realtime_api/api.py's websocket_application says.
        "websocket": websocket_application(),
    }
)
