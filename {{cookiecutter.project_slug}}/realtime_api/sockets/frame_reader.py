"""The frame reader: a socket's frames taken from the server as they arrive.

Channels reads the server's next message only once its consumer has handled
the last, a turn of the event loop or more each: a flood that the server
parses in large chunks would wait in the server's queue, where no limit
applies. `FrameReaderMiddleware` (around the consumer, in routing.py) reads
every message waiting at once. A frame goes straight to the socket's inbox
(inbox.py) once the consumer has attached one to the `FrameReader` in its
scope; everything else (the handshake, the disconnect, frames before there
is an inbox) goes to Channels, in order.
"""

import asyncio
import logging
from collections import deque
from typing import Any

logger = logging.getLogger(__name__)

SCOPE_KEY = "realtime_api.frames"


class FrameReaderMiddleware:
    """Serve a WebSocket consumer with a `FrameReader` in its scope."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or SCOPE_KEY in scope:
            return await self.inner(scope, receive, send)
        reader = FrameReader(receive)
        try:
            scope = {**scope, SCOPE_KEY: reader}
            return await self.inner(scope, reader.next_message, send)
        finally:
            await reader.stop()


def reader_of(scope):
    """The socket's FrameReader; None when served without the middleware."""
    return scope.get(SCOPE_KEY)


class FrameReader:
    """Reads one socket's messages as they come: frames for its inbox, the rest
    for Channels (`next_message()`, Channels' `receive`)."""

    def __init__(self, receive):
        self.inbox = None
        # Messages for Channels, oldest first.
        self.waiting: deque[dict[str, Any]] = deque()
        self.arrived = asyncio.Event()
        self.failed = None  # What the server's `receive` raised.
        self.task = asyncio.create_task(self.read(receive))

    async def read(self, receive):
        while True:
            try:
                message = await receive()
            except Exception as exc:  # Channels raises it in its turn.
                self.failed = exc
                self.arrived.set()
                return
            if message["type"] == "websocket.receive" and self.inbox is not None:
                try:
                    self.inbox.arrive(message)
                except Exception:  # As the inbox's task: the socket goes on.
                    logger.exception("A frame of this socket could not be taken")
                continue
            self.waiting.append(message)
            self.arrived.set()
            if message["type"] == "websocket.disconnect":
                return  # Nothing follows it.

    async def next_message(self):
        """The next message that is not a frame for the inbox."""
        while not self.waiting:
            if self.failed is not None:
                raise self.failed
            self.arrived.clear()
            await self.arrived.wait()
        return self.waiting.popleft()

    def attach(self, inbox):
        """Hand frames to `inbox` from now on, those still waiting first."""
        self.inbox = inbox
        waiting, self.waiting = self.waiting, deque()
        for message in waiting:
            if message["type"] == "websocket.receive":
                inbox.arrive(message)
            else:
                self.waiting.append(message)

    async def stop(self):
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
