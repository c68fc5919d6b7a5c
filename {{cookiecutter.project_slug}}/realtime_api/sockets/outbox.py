"""The outbox: what waits to be sent to one socket, bounded in bytes.

Everything the consumer sends (responses, events, its close) goes through
here, in order. When nothing waits and the server takes bytes now (daphne's
buffer is not full: `Transport.takes_now`), the sender hands the message on
itself, without a task switch per frame; otherwise it is queued, and a task
hands it to the server as fast as the server takes it (server_transport.py:
daphne's buffer, uvicorn's own waiting). Where the
server tells (uvicorn), a message handed on still counts until the kernel
has sent it: compressed, megabytes of events fit in the kernel's buffer. A
socket that does not read fills the queue; past `max_bytes` it is a slow
consumer: what waits is dropped and the socket is closed with 4009, behind
what the server already holds, and kept open up to SLOW_CLOSE_SECONDS for
the client to read it (PROTOCOL.md, "Limits and overload").

Events (sent by the hub for every socket) never wait. The socket's own
request task does (`is_patient`): it waits for room before it adds a
response or a replay, so a large replay streams at the client's pace
instead of overflowing the queue.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from realtime_api.ops import metrics

logger = logging.getLogger(__name__)

SLOW_CONSUMER = 4009
SLOW_CONSUMER_REASON = "slow consumer: reconnect and resume with since"
# How long a slow consumer's close frame may wait behind what it has not read.
SLOW_CLOSE_SECONDS = 60
# How often a task waiting for room asks the kernel what it has sent.
KERNEL_POLL_SECONDS = 0.05


def never():
    return False


def message_size(message):
    """The size counted for an ASGI message: its text's length, or its bytes'."""
    return len(message.get("text") or message.get("bytes") or "")


class Outbox:
    """The queue of one socket's outgoing messages, and the task that sends them."""

    # Thousands of these live in a process: no __dict__ per socket.
    __slots__ = (
        "closed",
        "closing",
        "is_patient",
        "max_bytes",
        "messages",
        "queued",
        "room",
        "sending",
        "server_send",
        "slow",
        "task",
        "transport",
        "unmarked",
        "unsent",
    )

    def __init__(self, send, transport, max_bytes):
        self.server_send = send
        self.transport = transport
        self.max_bytes = max_bytes
        # (ASGI message, size), oldest first; None while nothing waits (an
        # empty deque alone costs 600 bytes, and most sockets are idle).
        self.messages: deque[Any] | None = None
        self.queued = 0  # bytes waiting here, unsent, or held for later (reserve())
        # Handed to a server whose kernel counts (uvicorn), maybe not sent yet:
        self.unmarked = 0  # bytes handed since the kernel was last asked
        # (mark, size): sent once the kernel passed mark; None while empty
        self.unsent: deque[Any] | None = None
        self.sending = False  # A sender is handing a message on itself.
        self.closed = False  # A close is queued or sent: nothing more goes in.
        self.slow = False  # Closed as a slow consumer.
        # Whether the sender is the task whose sends wait for room (a socket's
        # request task: `Inbox.running_here`).
        self.is_patient: Callable[[], bool] = never
        # Set when there is room again, for the task waiting for it; None
        # while none waits.
        self.room: asyncio.Event | None = None
        # Sends the messages while there are any: started by the first, it
        # ends once none waits, so an idle socket holds no task.
        self.task: asyncio.Task[None] | None = None
        self.closing: asyncio.Task[None] | None = None

    async def send(self, message):
        """Queue an ASGI message (the consumer's `base_send`)."""
        if self.is_patient():
            await self.wait_for_room()
        if self.closed:
            return
        size = message_size(message)
        if not self.reserve(size):
            return
        if message["type"] == "websocket.close":
            self.closed = True
        if (
            self.task is None
            and not self.sending
            and not self.messages
            and self.transport.takes_now()
        ):
            await self.send_at_once(message, size)
            return
        if self.messages is None:
            self.messages = deque()
        self.messages.append((message, size))
        if self.task is None and not self.sending:
            self.task = asyncio.create_task(self.run())

    async def send_at_once(self, message, size):
        """Hand a message on in the sender's task: nothing waits before it.

        Should the server's `send` wait, what is sent meanwhile is queued,
        and the task that sends it starts once this one is handed on.
        """
        self.sending = True
        try:
            await self.server_send(message)
        except Exception:
            logger.warning("Could not send to a socket", exc_info=True)
            self.closed = True
            self.messages = None
            if self.closing is None:
                self.release(size)
            return
        finally:
            self.sending = False
        if self.closing is None:  # Not dropped by close_now() meanwhile.
            self.handed(size)
        if self.messages and self.task is None:
            self.task = asyncio.create_task(self.run())

    def reserve(self, size):
        """Count `size` more bytes for this socket; False once it overflows.

        A message larger than the bound still goes when nothing else waits.
        """
        if self.closed:
            return False
        if self.queued and self.queued + size > self.max_bytes:
            self.settle()
        if self.queued and self.queued + size > self.max_bytes:
            self.overflow()
            return False
        self.queued += size
        return True

    def release(self, size):
        """Count `size` bytes as gone (sent, or no longer held)."""
        self.queued -= size
        if self.queued <= self.max_bytes // 2:
            self.make_room()

    def make_room(self):
        """Wake the task waiting for room, if one is."""
        room, self.room = self.room, None
        if room is not None:
            room.set()

    async def wait_for_room(self):
        """Wait until at most half the bound is held (a patient task's send)."""
        while self.queued > self.max_bytes // 2 and not self.closed:
            room = self.room = self.room or asyncio.Event()
            self.settle()
            if not self.transport.counts_kernel:
                await room.wait()
                continue
            try:  # Nothing tells when the kernel sends: ask it now and then.
                async with asyncio.timeout(KERNEL_POLL_SECONDS):
                    await room.wait()
            except TimeoutError:
                pass

    def handed(self, size):
        """`size` bytes went to the server: gone, or held until its kernel sends."""
        if self.transport.counts_kernel:
            self.unmarked += size
        else:
            self.release(size)

    def settle(self):
        """Release what the server's kernel has sent (asked near the bound only).

        What was handed since the last time is marked with all the server has
        been handed so far: sent at the latest when all that is.
        """
        if not (self.unmarked or self.unsent):
            return
        counts = self.transport.counts()
        if counts is None:  # Closing or closed: the server holds nothing more.
            held = self.unmarked + sum(size for _, size in self.unsent or ())
            self.unsent = None
            self.unmarked = 0
            self.release(held)
            return
        handed, sent = counts
        if self.unmarked:
            if self.unsent is None:
                self.unsent = deque()
            self.unsent.append((handed, self.unmarked))
            self.unmarked = 0
        while self.unsent and self.unsent[0][0] <= sent:
            self.release(self.unsent.popleft()[1])
        if not self.unsent:
            self.unsent = None

    async def run(self):
        try:
            while self.messages:
                await self.transport.writable()
                message, size = self.messages.popleft()
                try:
                    await self.server_send(message)
                except Exception:
                    # The server refuses: the socket is going; its disconnect
                    # follows.
                    logger.warning("Could not send to a socket", exc_info=True)
                    self.closed = True
                    self.release(size)
                    return
                self.handed(size)
                if message["type"] == "websocket.close":
                    return
        finally:
            # Nothing waits (or nothing more may go): the next message starts
            # a new task. No await between the last check and here.
            self.task = None
            self.messages = None

    def overflow(self):
        """Drop what waits; close with 4009 behind what the server holds."""
        logger.info("Slow consumer: closing the socket with %s", SLOW_CONSUMER)
        metrics.overload("slow_consumer")
        self.slow = True
        self.close_now(SLOW_CONSUMER, SLOW_CONSUMER_REASON, SLOW_CLOSE_SECONDS)

    def close_now(self, code, reason, keep_open=None):
        """Close at once: what waits here is dropped, not sent.

        The close frame still follows what the server holds already; with
        `keep_open` it may wait that many seconds for the peer to read it.
        """
        if self.closing is not None:
            return
        self.closed = True
        self.messages = None
        self.unsent = None
        self.unmarked = 0
        self.queued = 0
        self.make_room()
        if self.task is not None:
            self.task.cancel()
        message = {"type": "websocket.close", "code": code, "reason": reason}
        self.closing = asyncio.create_task(self.send_close(message, keep_open))

    async def send_close(self, message, keep_open):
        if keep_open is not None:
            self.transport.keep_open_for(keep_open)
        await self.server_send(message)

    async def stop(self):
        """The socket is gone: stop sending."""
        self.closed = True
        self.make_room()
        tasks = [t for t in (self.task, self.closing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
