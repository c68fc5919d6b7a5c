"""WebSocket URL patterns: the multiplexed socket and sockets bound to a stream.

Each consumer is served by a FrameReaderMiddleware, which reads its frames as
they arrive (sockets/frame_reader.py).
"""

from django.urls import path

from realtime_api import conf
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.sockets.frame_reader import FrameReaderMiddleware

websocket_urlpatterns = [
    path(conf.websocket_path(), FrameReaderMiddleware(APIDemultiplexer.as_asgi())),
    path(
        f"{conf.websocket_path()}<str:stream>/",
        FrameReaderMiddleware(APIDemultiplexer.as_asgi()),
    ),
]
