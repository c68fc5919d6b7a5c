"""A live server's application: the project's HTTP, and whoami.py's socket."""

from channels.routing import ProtocolTypeRouter

from config.asgi import application as project  # First: it sets Django up.

from .whoami import application as whoami_socket

application = ProtocolTypeRouter({"http": project, "websocket": whoami_socket})
