"""A live server's application: the project's HTTP, and expiring.py's socket."""

from channels.routing import ProtocolTypeRouter

from config.asgi import application as project  # First: it sets Django up.

from .expiring import application as expiring_socket

application = ProtocolTypeRouter({"http": project, "websocket": expiring_socket})
