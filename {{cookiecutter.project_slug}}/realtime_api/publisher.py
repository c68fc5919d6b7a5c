"""Publishing changes: each is logged under its stream's next `seq`, then sent.

A `Publisher` belongs to one event loop (a server process has one). It
publishes changes one at a time, in the order they committed, so that `seq`
order is commit order within a process. It never holds the database thread:
a socket's request hands its changes over (see `collecting()`) and the
socket waits for them on the loop before it reads its next frame.
"""

import asyncio
import concurrent.futures
import contextvars
import logging
from contextlib import contextmanager

from . import metrics
from .changes import stream_group

logger = logging.getLogger(__name__)

# The (publisher, handed futures) of the socket request running in this
# context, if any. Set by `Publisher.collecting()`; read after commit.
_collecting = contextvars.ContextVar("realtime_api_collecting", default=None)


class Publisher:
    """Logs and sends this loop's changes, in commit order."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.loop = asyncio.get_running_loop()
        self.turn = asyncio.Lock()  # Wakes its waiters first come, first served.
        self.tasks = set()  # The loop keeps only weak references to tasks.

    @contextmanager
    def collecting(self):
        """Hand the changes committed in this context to this publisher.

        Yields the list of futures, one per change, that the caller awaits
        once it has answered (its changes then reach subscribers, itself
        included, in the order it made them).
        """
        handed = []
        token = _collecting.set((self, handed))
        try:
            yield handed
        finally:
            _collecting.reset(token)

    def submit_threadsafe(self, change):
        """From any thread: publish `change` in turn; return a future of it."""
        done = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self._start, change, done)
        return done

    def _start(self, change, done):
        task = self.loop.create_task(self.publish_in_turn(change))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: done.set_result(None))

    async def publish_in_turn(self, change):
        """Publish after the changes handed over before this one."""
        async with self.turn:
            try:
                await self.publish(change)
            except Exception:
                # The write has committed: a broken channel layer or event log
                # must not fail it. The event is lost, and the log says so.
                logger.exception(
                    "Event not delivered: %s %s", change.stream, change.action
                )
                metrics.events_dropped([change.stream], "publish")

    async def publish(self, change):
        """Log `change` under the stream's next seq, and send it to every process."""
        seq = await self.runtime.event_log.append(change)
        message = change.with_seq(seq).to_message()
        await self.runtime.layer.group_send(stream_group(change.stream), message)
        metrics.event_published(change.stream)


def hand_over(change):
    """In a socket's request, hand `change` to its publisher; False elsewhere."""
    collecting = _collecting.get()
    if collecting is None:
        return False
    publisher, handed = collecting
    handed.append(publisher.submit_threadsafe(change))
    return True
