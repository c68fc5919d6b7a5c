"""A test-only stream that answers with the requesting user: `whoami/list/`.

Its socket is authenticated as config.asgi's is: by an Authorization header,
a ticket, or the session cookie (realtime_api.auth.handshake).
"""

from channels.routing import URLRouter
from django.urls import path
from rest_framework.authentication import TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime_api.auth.handshake import RealtimeAuthMiddlewareStack
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry


class BearerAuthentication(TokenAuthentication):
    """DRF's tokens sent as `Authorization: Bearer <key>`: a Bearer scheme."""

    keyword = "Bearer"


class WhoAmIView(APIView):
    def get(self, request):
        auth = type(request.auth).__name__ if request.auth is not None else None
        return Response({"username": request.user.get_username() or None, "auth": auth})


class WhoAmIConsumer(Endpoint):
    view = WhoAmIView
    stream = "whoami"


class TokenOnlyView(WhoAmIView):
    """Reads DRF tokens only: a session (or a ticket) is anonymous here."""

    authentication_classes = [TokenAuthentication]


class TokenOnlyConsumer(Endpoint):
    view = TokenOnlyView
    stream = "token-only"


class WithBearerView(WhoAmIView):
    """What every view reads once the project adds a Bearer class to its settings."""

    authentication_classes = [*WhoAmIView.authentication_classes, BearerAuthentication]


class WithBearerConsumer(Endpoint):
    view = WithBearerView
    stream = "with-bearer"


registry = Registry()
registry.register(WhoAmIConsumer, TokenOnlyConsumer, WithBearerConsumer)

# The same views over HTTP, for comparisons (ROOT_URLCONF in a test).
urlpatterns = [
    path(f"{adapter.stream}/", adapter.view.as_view()) for adapter in registry
]

application = RealtimeAuthMiddlewareStack(
    URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=registry))])
)


async def username(socket, stream="whoami"):
    """Return the username the socket's requests run as (None: anonymous)."""
    response = await socket.request(stream, "list")
    assert response["status"] == 200, response
    return response["data"]["username"]
