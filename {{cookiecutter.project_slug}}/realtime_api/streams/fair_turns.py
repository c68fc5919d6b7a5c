"""Turns in the view threads, taken round the users rather than first come.

A socket runs one request at a time, but a user with 20 sockets (its
budget) has 20 views waiting at once. In one shared thread (SQLite) those
queued in arrival order, so every other user's request waited behind all of
them (the neighbours bench's many-sockets attack: the victim's creates went
from 6 to 170 ms). Here each user (or anonymous address) has its own FIFO,
and a freed thread goes to the next user in the round: a user's request
waits for at most one view of each other user ahead of it, however many
that user sent.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class FairTurns:
    """At most `slots` holders at once; waiters served round-robin by key."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.running = 0
        # key -> its waiters, in order; the dict's order is the round's.
        self.waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        """Hold one of the slots for `key` while the block runs."""
        if self.running < self.slots and not self.waiting:
            self.running += 1
        else:
            granted = asyncio.get_running_loop().create_future()
            self.waiting.setdefault(key, deque()).append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self.release()  # The slot came with the cancellation.
                else:
                    self.withdraw(key, granted)
                raise
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Pass the slot to the first waiter of the next key in the round."""
        while self.waiting:
            key = next(iter(self.waiting))
            queue = self.waiting.pop(key)
            granted = queue.popleft()
            if queue:  # Its next waiter goes to the back of the round.
                self.waiting[key] = queue
            if not granted.done():
                granted.set_result(None)
                return  # The slot passes on: `running` stays.
        self.running -= 1

    def withdraw(self, key: Hashable, granted: asyncio.Future[None]) -> None:
        queue = self.waiting.get(key)
        if queue is not None and granted in queue:
            queue.remove(granted)
            if not queue:
                del self.waiting[key]
