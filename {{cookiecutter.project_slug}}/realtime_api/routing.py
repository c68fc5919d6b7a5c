"""WebSocket URL patterns: the multiplexed socket and sockets bound to a stream."""

from django.urls import path

from realtime_api import conf
from realtime_api.sockets.demultiplexer import APIDemultiplexer

websocket_urlpatterns = [
    path(conf.websocket_path(), APIDemultiplexer.as_asgi()),
    path(f"{conf.websocket_path()}<str:stream>/", APIDemultiplexer.as_asgi()),
]
