"""Publishing changes: each is logged under its stream's next `seq`, then sent.

A `Publisher` belongs to one event loop (a server process has one). It
publishes changes one at a time, in the order they are handed to it, so
that `seq` order is the order in which the hub hears them. It never holds a
view thread: a socket's request collects the changes its view commits (see
`collecting()`), and the socket hands them over on the loop once the view
has returned, before it reads its next frame.

With one view thread (view_threads.py) that order is commit order. With
several, two sockets' writes that commit at nearly the same moment may be
published in either order. No receiver can tell: a change names its object,
and each receiver gets the object as it is when the change is delivered.
"""

import asyncio
import contextvars
import logging
from contextlib import contextmanager
from typing import Any

from realtime_api.delivery.changes import stream_group
from realtime_api.ops import metrics

logger = logging.getLogger(__name__)

# The list collecting the changes committed by the socket request running in
# this context, if any. Set by `Publisher.collecting()`; read after commit.
_collecting: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "realtime_api_collecting", default=None
)


class Publisher:
    """Logs and sends this loop's changes, in the order handed over."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.turn = asyncio.Lock()  # Wakes its waiters first come, first served.
        self.tasks = set()  # The loop keeps only weak references to tasks.

    @contextmanager
    def collecting(self):
        """Collect the changes committed in this context, in commit order.

        Yields the list they are added to (by `hand_over()`, in the database
        thread). Hand it to `publish_soon()` on the loop once the request has
        run: collecting there, rather than calling back into the loop from
        the view thread, costs no thread switch in the middle of a view.
        """
        collected = Collected()
        token = _collecting.set(collected)
        try:
            yield collected
        finally:
            collected.closed = True
            _collecting.reset(token)

    def publish_soon(self, changes):
        """Publish `changes` after those handed over before; return the task, or None.

        Call it on the loop, with no await since the request returned: the
        order of these calls is the order of publishing.
        """
        if not changes:
            return None
        task = asyncio.get_running_loop().create_task(self.publish_all(changes))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def publish_all(self, changes):
        async with self.turn:
            for change in changes:
                await self.publish_safely(change)

    async def publish_in_turn(self, change):
        """Publish `change` after the changes handed over before this one."""
        async with self.turn:
            await self.publish_safely(change)

    async def publish_safely(self, change):
        try:
            await self.publish(change)
        except Exception:
            # The write has committed: a broken channel layer or event log
            # must not fail it. The event is lost, and the log says so.
            logger.exception("Event not delivered: %s %s", change.stream, change.action)
            metrics.events_dropped([change.stream], "publish")

    async def publish(self, change):
        """Log `change` under the stream's next seq, and send it to every process."""
        seq = await self.runtime.event_log.append(change)
        message = change.with_seq(seq).to_message()
        await self.runtime.layer.group_send(stream_group(change.stream), message)
        metrics.event_published(change.stream)


class Collected(list):
    """The changes of one socket request; closed once the request has run."""

    closed = False


def hand_over(change):
    """In a socket's request, add `change` to what it collects; False elsewhere.

    Also False in a task or thread the request started that outlives it (it
    keeps the request's context): nobody would publish what it adds.
    """
    collected = _collecting.get()
    if collected is None or collected.closed:
        return False
    collected.append(change)
    return True
