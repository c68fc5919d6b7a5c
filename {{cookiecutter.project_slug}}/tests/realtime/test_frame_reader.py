"""The frame reader takes every waiting frame from the server at once.

Frames go to the socket's inbox once the consumer attached one (those that
waited in the server's queue meanwhile first, in order); everything else
goes to Channels. It reads in Channels' own task: it starts none. The same
through the whole stack: test_ws_overload.py, test_live_overload.py,
test_idle_socket.py.
"""

import asyncio

import pytest

from realtime_api.sockets.frame_reader import (
    SCOPE_KEY,
    FrameReader,
    FrameReaderMiddleware,
)


class FakeInbox:
    def __init__(self):
        self.frames = []

    def arrive(self, message):
        self.frames.append(message["text"])


def frame(text):
    return {"type": "websocket.receive", "text": text}


async def test_frames_go_to_the_inbox_as_they_arrive():
    """Every frame waiting is taken in one call, in order; the disconnect returns."""
    server = asyncio.Queue()
    reader = FrameReader(server.get)
    server.put_nowait({"type": "websocket.connect"})
    server.put_nowait(frame("early"))  # Sent right after the handshake.
    assert await reader.receive() == {"type": "websocket.connect"}
    inbox = FakeInbox()
    reader.attach(inbox)  # What came meanwhile is still the server's, first.
    for i in range(100):
        server.put_nowait(frame(str(i)))
    server.put_nowait({"type": "websocket.disconnect", "code": 1000})
    tasks = len(asyncio.all_tasks())
    assert await reader.receive() == {"type": "websocket.disconnect", "code": 1000}
    assert inbox.frames == ["early"] + [str(i) for i in range(100)]
    assert len(asyncio.all_tasks()) == tasks  # No task of its own.


async def test_frames_wait_for_channels_until_an_inbox_is_attached():
    """Without an inbox (a consumer routed on its own) frames go to Channels."""
    server = asyncio.Queue()
    reader = FrameReader(server.get)
    server.put_nowait(frame("first"))
    assert await reader.receive() == frame("first")


async def test_the_middleware_puts_the_reader_in_the_scope():
    """The consumer finds its reader in the scope, and receives through it."""
    seen = {}

    async def consumer(scope, receive, send):
        seen["reader"] = scope[SCOPE_KEY]
        seen["message"] = await receive()

    server = asyncio.Queue()
    server.put_nowait({"type": "websocket.connect"})
    await FrameReaderMiddleware(consumer)({"type": "websocket"}, server.get, None)
    assert seen["message"] == {"type": "websocket.connect"}
    assert isinstance(seen["reader"], FrameReader)


async def test_a_server_that_fails_fails_channels_and_a_frame_that_fails_is_logged(
    caplog,
):
    """The server's error reaches Channels; an inbox's is logged and reading goes on."""

    async def broken():
        raise OSError("gone")

    reader = FrameReader(broken)
    with pytest.raises(OSError, match="gone"):
        await reader.receive()

    class BrokenInbox:
        def arrive(self, message):
            raise ValueError(message["text"])

    server = asyncio.Queue()
    reader = FrameReader(server.get)
    reader.attach(BrokenInbox())
    server.put_nowait(frame("bad"))
    server.put_nowait({"type": "websocket.disconnect", "code": 1000})
    assert await reader.receive() == {"type": "websocket.disconnect", "code": 1000}
    assert "could not be taken" in caplog.text
