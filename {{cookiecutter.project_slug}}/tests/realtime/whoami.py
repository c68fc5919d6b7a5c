"""A test-only stream that answers with the requesting user: `whoami/list/`."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime_api.consumers import APIDemultiplexer, Endpoint, Registry


class WhoAmIView(APIView):
    def get(self, request):
        return Response({"username": request.user.get_username() or None})


class WhoAmIConsumer(Endpoint):
    view = WhoAmIView
    stream = "whoami"


registry = Registry()
registry.register(WhoAmIConsumer)

application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(
        URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=registry))])
    )
)


async def username(socket):
    """Return the username the socket's requests run as (None: anonymous)."""
    response = await socket.request("whoami", "list")
    assert response["status"] == 200, response
    return response["data"]["username"]
