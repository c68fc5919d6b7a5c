"""Where the views of socket requests run: Channels' database thread, or a pool.

Django's ORM is synchronous, so a view runs in a thread. Channels runs every
`database_sync_to_async` call of a process in one thread, one call at a
time, and that thread waits for each of the database's answers. On
PostgreSQL a few threads let other sockets' views run while one waits. A
socket's own requests still run one at a time, in order: its inbox waits
for each answer before it runs the next frame.

SQLite takes one writer at a time, and in this process: more threads only
wait for its lock, so there the default is Channels' thread.

Either way the views take turns round the users (fair_turns.py): one user's
many sockets do not queue ahead of everyone else's requests.
"""

from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections, connections

from realtime_api.streams.fair_turns import FairTurns

T = TypeVar("T")


class ViewThreads:
    """Runs the views of one event loop's socket requests."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.executor: ThreadPoolExecutor | None = None
        self.turns = FairTurns(max(count, 1))
        if count > 1:
            self.executor = ThreadPoolExecutor(
                count, thread_name_prefix="realtime-view"
            )

    async def run(
        self, function: Callable[..., T], *args: Any, key: Hashable = None
    ) -> T:
        """Run `function(*args)` in a view thread, in `key`'s turn (its user's)."""
        async with self.turns.turn(key):
            return await self.run_now(function, *args)

    async def run_now(self, function: Callable[..., T], *args: Any) -> T:
        if self.executor is None:
            result: T = await database_sync_to_async(function)(*args)
            return result
        return await sync_to_async(
            with_fresh_connection, thread_sensitive=False, executor=self.executor
        )(function, *args)


def default_count() -> int:
    """One thread on SQLite, four on a database server."""
    return 1 if connections["default"].vendor == "sqlite" else 4


def with_fresh_connection(function: Callable[..., T], *args: Any) -> T:
    """Run function between two checks of the thread's connection (CONN_MAX_AGE, pool).

    What database_sync_to_async does, except that Channels' test
    communicators turn its checks off: a thread of our own outlives a test,
    and a connection it kept would drain PostgreSQL's pool.
    """
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()
