"""A test-only stream that answers with the requesting user: `whoami/list/`."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime_api.consumers import APIConsumer, APIDemultiplexer


class WhoAmIView(APIView):
    def get(self, request):
        return Response({"username": request.user.get_username() or None})


class WhoAmIConsumer(APIConsumer):
    view = WhoAmIView
    stream = "whoami"


class WhoAmIDemultiplexer(APIDemultiplexer):
    pass


WhoAmIDemultiplexer.register(WhoAmIConsumer)

application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter([path("ws/", WhoAmIDemultiplexer.as_asgi())]))
)


async def username(socket):
    """Return the username the socket's requests run as (None: anonymous)."""
    response = await socket.request("whoami", "list")
    assert response["status"] == 200, response
    return response["data"]["username"]
