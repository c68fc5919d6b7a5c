"""The frame reader: a socket's frames taken from the server as they arrive.

Channels reads the server's next message only once its consumer has handled
the last, a turn of the event loop or more each: a flood that the server
parses in large chunks would wait in the server's queue, where no limit
applies. `FrameReaderMiddleware` (around the consumer, in routing.py) gives
Channels a `receive` that, once the consumer has attached its inbox
(inbox.py) to the `FrameReader` in its scope, hands every frame waiting to
the inbox at once and returns only what is not a frame (the disconnect).

It reads in Channels' own task, the one that waits on the server for every
socket anyway: an idle socket costs no task of ours. Frames that arrive
while the consumer handles the handshake (Channels reads nothing then) wait
in the server's queue and are read after it, in order.
"""

import logging

logger = logging.getLogger(__name__)

SCOPE_KEY = "realtime_api.frames"


class FrameReaderMiddleware:
    """Serve a WebSocket consumer with a `FrameReader` in its scope."""

    def __init__(self, inner):
        self.inner = inner

    # Not `async`: it hands on the inner application's coroutine, so no frame
    # of its own is kept for each socket (BENCHMARKS.md, "An idle socket").
    _asgi_single_callable = True  # What asgiref asks of a plain __call__.

    def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or SCOPE_KEY in scope:
            return self.inner(scope, receive, send)
        reader = FrameReader(receive)
        if "url_route" in scope:
            # URLRouter made this scope for this socket alone (routing.py):
            # one more copy of its twenty keys would cost each socket ~800 B.
            scope[SCOPE_KEY] = reader
        else:
            scope = {**scope, SCOPE_KEY: reader}
        return self.inner(scope, reader.receive, send)


def reader_of(scope):
    """The socket's FrameReader; None when served without the middleware."""
    return scope.get(SCOPE_KEY)


class FrameReader:
    """Channels' `receive` for one socket: frames go to its inbox once attached."""

    __slots__ = ("inbox", "server_receive")

    def __init__(self, receive):
        self.server_receive = receive
        self.inbox = None

    async def receive(self):
        """The next message that is not a frame for the inbox.

        Every frame the server has already parsed is taken in one go: an
        await on a queue that holds messages does not wait.
        """
        while True:
            message = await self.server_receive()
            if message["type"] != "websocket.receive" or self.inbox is None:
                return message
            try:
                self.inbox.arrive(message)
            except Exception:  # As the inbox's task: the socket goes on.
                logger.exception("A frame of this socket could not be taken")

    def attach(self, inbox):
        """Hand frames to `inbox` from now on.

        Those that came meanwhile still wait in the server's queue: the
        next `receive()` takes them first.
        """
        self.inbox = inbox
