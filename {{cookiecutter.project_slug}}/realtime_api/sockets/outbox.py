"""The outbox: what waits to be sent to one socket, bounded in bytes.

Everything the consumer sends (responses, events, its close) is queued here,
in order, and a task hands it to the server as fast as the server takes it
(server_transport.py: daphne's buffer, uvicorn's own waiting). Where the
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


def message_size(message):
    """The size counted for an ASGI message: its text's length, or its bytes'."""
    return len(message.get("text") or message.get("bytes") or "")


class Outbox:
    """The queue of one socket's outgoing messages, and the task that sends them."""

    def __init__(self, send, transport, max_bytes):
        self.server_send = send
        self.transport = transport
        self.max_bytes = max_bytes
        self.messages: deque[Any] = deque()  # (ASGI message, size), oldest first
        self.queued = 0  # bytes waiting here, unsent, or held for later (reserve())
        # Handed to a server whose kernel counts (uvicorn), maybe not sent yet:
        self.unmarked = 0  # bytes handed since the kernel was last asked
        # (mark, size): sent once the kernel passed mark
        self.unsent: deque[Any] = deque()
        self.closed = False  # A close is queued or sent: nothing more goes in.
        self.slow = False  # Closed as a slow consumer.
        # Whether the sender is the task whose sends wait for room (a socket's
        # request task: `Inbox.running_here`).
        self.is_patient: Callable[[], bool] = lambda: False
        self.wakeup = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        # Started by the first message: an idle socket holds no task.
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
        self.messages.append((message, size))
        if message["type"] == "websocket.close":
            self.closed = True
        if self.task is None:
            self.task = asyncio.create_task(self.run())
        self.wakeup.set()

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
            self.room.set()

    async def wait_for_room(self):
        """Wait until at most half the bound is held (a patient task's send)."""
        while self.queued > self.max_bytes // 2 and not self.closed:
            self.room.clear()
            self.settle()
            if not self.transport.counts_kernel:
                await self.room.wait()
                continue
            try:  # Nothing tells when the kernel sends: ask it now and then.
                async with asyncio.timeout(KERNEL_POLL_SECONDS):
                    await self.room.wait()
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
            held = self.unmarked + sum(size for _, size in self.unsent)
            self.unsent.clear()
            self.unmarked = 0
            self.release(held)
            return
        handed, sent = counts
        if self.unmarked:
            self.unsent.append((handed, self.unmarked))
            self.unmarked = 0
        while self.unsent and self.unsent[0][0] <= sent:
            self.release(self.unsent.popleft()[1])

    async def run(self):
        while True:
            while not self.messages:
                self.wakeup.clear()
                await self.wakeup.wait()
            await self.transport.writable()
            message, size = self.messages.popleft()
            try:
                await self.server_send(message)
            except Exception:
                # The server refuses: the socket is going; its disconnect follows.
                logger.warning("Could not send to a socket", exc_info=True)
                self.closed = True
                self.release(size)
                return
            self.handed(size)
            if message["type"] == "websocket.close":
                return

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
        self.messages.clear()
        self.unsent.clear()
        self.unmarked = 0
        self.queued = 0
        self.room.set()
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
        self.room.set()
        tasks = [t for t in (self.task, self.closing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
