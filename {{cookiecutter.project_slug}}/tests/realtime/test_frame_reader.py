"""The frame reader takes every waiting frame from the server at once.

Frames go to the socket's inbox once the consumer attached one (those that
came before it first, in order); everything else goes to Channels. The same
through the whole stack: test_ws_overload.py, test_live_overload.py.
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
    server = asyncio.Queue()
    reader = FrameReader(server.get)
    server.put_nowait({"type": "websocket.connect"})
    server.put_nowait(frame("early"))
    await asyncio.sleep(0)
    assert await reader.next_message() == {"type": "websocket.connect"}
    inbox = FakeInbox()
    reader.attach(inbox)  # What came before it goes first.
    for i in range(100):  # Nobody asks for them: the reader takes them.
        server.put_nowait(frame(str(i)))
    server.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.sleep(0.01)
    assert inbox.frames == ["early"] + [str(i) for i in range(100)]
    assert await reader.next_message() == {"type": "websocket.disconnect", "code": 1000}
    assert reader.task.done()  # Nothing is read after the disconnect.
    await reader.stop()


async def test_the_middleware_puts_the_reader_in_the_scope_and_stops_it():
    seen = {}

    async def consumer(scope, receive, send):
        seen["reader"] = scope[SCOPE_KEY]
        seen["message"] = await receive()

    server = asyncio.Queue()
    server.put_nowait({"type": "websocket.connect"})
    await FrameReaderMiddleware(consumer)({"type": "websocket"}, server.get, None)
    assert seen["message"] == {"type": "websocket.connect"}
    assert seen["reader"].task.cancelled()


async def test_a_server_that_fails_fails_channels_and_a_frame_that_fails_is_logged(
    caplog,
):
    async def broken():
        raise OSError("gone")

    reader = FrameReader(broken)
    with pytest.raises(OSError, match="gone"):
        await reader.next_message()

    class BrokenInbox:
        def arrive(self, message):
            raise ValueError(message["text"])

    server = asyncio.Queue()
    reader = FrameReader(server.get)
    reader.attach(BrokenInbox())
    server.put_nowait(frame("bad"))
    server.put_nowait({"type": "websocket.disconnect", "code": 1000})
    assert await reader.next_message() == {"type": "websocket.disconnect", "code": 1000}
    assert "could not be taken" in caplog.text
