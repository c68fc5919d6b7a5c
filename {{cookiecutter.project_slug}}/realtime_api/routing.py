"""WebSocket URL patterns: the multiplexed socket and sockets bound to a stream.

The consumer is served by a FrameReaderMiddleware, which reads its frames as
they arrive (sockets/frame_reader.py).
"""

from django.urls import path

from realtime_api import conf
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.sockets.frame_reader import FrameReaderMiddleware

socket_app = FrameReaderMiddleware(APIDemultiplexer.as_asgi())
websocket_urlpatterns = [
    path(conf.websocket_path(), socket_app),
    path(f"{conf.websocket_path()}<str:stream>/", socket_app),
]
