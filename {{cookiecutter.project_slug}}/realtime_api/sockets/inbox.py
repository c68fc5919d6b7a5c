"""The inbox: one socket's frames, counted as they arrive and run one at a time.

Channels hands a consumer its next message only once the previous one is
handled. A consumer that answers each request before it reads the next frame
leaves a flooding client's frames queued inside the server, where no limit
applies and a rate checked when a frame is served refuses nothing. So the
FrameReaderMiddleware around the consumer (frame_reader.py) hands each frame
to `arrive()` as soon as the server has it, and a task of the inbox runs the
frames in order.

At arrival a frame is either queued to run, or refused and not run: over
the socket's rate (flood.py), or when `max_pending` frames of the socket
already wait to be answered. A refusal is answered 429 in its place in the
order of answers. A socket that runs out of refusals (flood.py) is closed
with 4008, and the frames still waiting are not run.
"""

import asyncio
import logging
from collections import deque
from typing import Any

from realtime_api.ops import metrics

logger = logging.getLogger(__name__)

RUN, ANSWER = "run", "answer"


class Inbox:
    """The frames of one socket waiting to be run, and the task that runs them.

    It calls the socket's consumer: `receive(text, bytes)` answers a frame,
    `refusal(text, reason, wait)` builds the 429 of a refused one (`reason`
    "rate" or "pending"), `send(text_data=...)`, and `close_flooding()`.
    """

    # Thousands of these live in a process: no __dict__ per socket.
    __slots__ = (
        "closing",
        "consumer",
        "entries",
        "flood",
        "max_frame_bytes",
        "max_pending",
        "pending",
        "task",
    )

    def __init__(self, consumer, flood, max_pending, max_frame_bytes):
        self.consumer = consumer
        self.flood = flood
        self.max_pending = max_pending
        self.max_frame_bytes = max_frame_bytes
        # (RUN, text, bytes) or (ANSWER, text); None while nothing waits: an
        # empty deque alone costs 600 bytes, and most sockets are idle.
        self.entries: deque[tuple[Any, ...]] | None = None
        self.pending = 0  # RUN entries waiting, and the one running
        self.closing = False  # Told to close: later frames are dropped.
        # Runs the entries while there are any: started by the first frame,
        # it ends once none waits, so an idle socket holds no task.
        self.task: asyncio.Task[None] | None = None

    def arrive(self, message):
        """A frame arrived: queue it to run, or queue its refusal."""
        if self.closing:
            return
        text, data = message.get("text"), message.get("bytes")
        wait = self.flood.arrive()
        if not wait and self.pending < self.max_pending:
            if text is not None and len(text) > self.max_frame_bytes:
                # It is answered 413 unread: keep no more of it than shows that.
                text = text[: self.max_frame_bytes + 1]
            data = b"" if data is not None else None  # Answered 400 unread.
            self.pending += 1
            self.put(RUN, text, data)
            return
        reason = "pending"
        if wait:
            reason = "user-rate" if self.flood.shared_refused else "rate"
        metrics.overload(reason)
        if self.flood.refused():
            self.flooding()
            return
        self.put(ANSWER, self.consumer.refusal(text, reason, wait))

    def flooding(self):
        """Told and still flooding: close with 4008 at once.

        Frames waiting to run never run and nothing more is read (see
        `close_flooding()`): a full-speed flood costs no more.
        """
        logger.info("Flooding socket: closing it with 4008")
        metrics.overload("flooding")
        self.closing = True
        entries, self.entries = self.entries or (), None
        self.pending -= sum(1 for entry in entries if entry[0] == RUN)
        self.consumer.close_flooding()

    def put(self, *entry):
        if self.entries is None:
            self.entries = deque()
        self.entries.append(entry)
        if self.task is None:
            self.task = asyncio.create_task(self.run())

    def running_here(self):
        """Whether the current task is the one running this socket's frames."""
        return self.task is not None and asyncio.current_task() is self.task

    async def run(self):
        try:
            while self.entries:
                kind, *args = self.entries.popleft()
                try:
                    if kind == RUN:
                        try:
                            await self.consumer.receive(*args)
                        finally:
                            self.pending -= 1
                    else:
                        await self.consumer.send(text_data=args[0])
                except Exception:
                    logger.exception("A frame of this socket failed")
        finally:
            # Nothing waits (or stopped): the next frame starts a new task.
            # No await between the last check and here, so none is missed.
            self.task = None
            self.entries = None

    async def stop(self):
        """The socket is gone: run nothing more (a frame running is cancelled)."""
        self.closing = True
        task = self.task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
