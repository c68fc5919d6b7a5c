"""The hub: how the changes of every process reach this process's sockets.

Each process joins one channel-layer group per stream it serves listeners
of, and receives every change of that stream once. For each change it finds
its sockets that listen (by subscription groups, and live queries), asks
each of their audiences once whether it may see the object and how
(`Audience.evaluate`), then hands each socket its frame: the object as its
user would `retrieve` it, a `leave`, or nothing. All changes waiting at that
moment are evaluated in one trip to the database thread.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from realtime_api.delivery.audience import Audience, Verdict
from realtime_api.delivery.changes import Change, collapse_rechecks, stream_group
from realtime_api.ops import metrics
from realtime_api.streams.view_threads import with_fresh_connection

logger = logging.getLogger(__name__)

# Channels' Redis layer forgets a group member after its group_expiry (a day
# by default): a process joins its streams' groups again after this long.
REJOIN_SECONDS = 3600
# How many waiting changes one trip to the database thread evaluates at most.
BATCH = 100


class Listeners:
    """The subscribers and live queries of one stream in this process."""

    def __init__(self):
        self.subscribers = set()
        self.by_group = {}  # group -> subscribers that joined it
        self.live_queries = {}  # (visibility key, query JSON) -> LiveQuery

    def targets(self, change):
        """The subscribers a change may concern: by its groups.

        A recheck concerns those of its groups that know an object (all that
        know one, when it names no group).
        """
        if change.action == "recheck" and not change.groups:
            return {s for s in self.subscribers if s.known}
        found = set()
        for group in change.all_groups():
            found.update(self.by_group.get(group, ()))
        if change.action == "recheck":
            return {s for s in found if s.known}
        return found


class Hub:
    """This loop's listeners of every stream, and the changes that reach them."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.layer = runtime.layer
        self.streams = {}  # stream -> Listeners
        self.audiences = {}  # (stream, visibility key) -> Audience
        self.joined = {}  # stream -> (time, the shared group_add)
        self.channel = None
        self.opening = asyncio.Lock()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.tasks: tuple[asyncio.Task[Any], ...] = ()
        # Evaluations read the database in a thread (and connection) of their
        # own: the sockets' requests do not wait behind them, and the changes
        # that arrive meanwhile make the next batch.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="realtime-hub")

    # --- Joining the streams' groups -----------------------------------------

    async def listen(self, stream):
        """Receive every change of `stream` from now on (returns once joined).

        A process stays in the group: leaving and joining again would race,
        and a change nobody here listens to costs a dictionary lookup.
        """
        if self.channel is None:
            await self.open()
        joined = self.joined.get(stream)
        if joined is None or time.monotonic() - joined[0] > REJOIN_SECONDS:
            future = asyncio.ensure_future(
                self.layer.group_add(stream_group(stream), self.channel)
            )
            joined = self.joined[stream] = (time.monotonic(), future)
        try:
            await asyncio.shield(joined[1])  # Sockets joining at once share one add.
        except Exception:
            if self.joined.get(stream) is joined:
                del self.joined[stream]  # The next listener tries again.
            raise

    async def open(self):
        async with self.opening:  # Two first listeners at once: one channel.
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.tasks = (
                    asyncio.create_task(self.receive()),
                    asyncio.create_task(self.work()),
                )

    async def receive(self):
        while True:
            message = await self.layer.receive(self.channel)
            try:
                self.queue.put_nowait(Change.from_message(message))
            except Exception:
                logger.exception("Not a change: %r", message)

    async def work(self):
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < BATCH:
                batch.append(self.queue.get_nowait())
            try:
                await self.handle(batch)
            except Exception:
                logger.exception("Changes not delivered: %s", [c.id for c in batch])
                metrics.events_dropped([c.stream for c in batch], "deliver")

    # --- Listeners -----------------------------------------------------------

    def listeners(self, stream):
        listeners = self.streams.get(stream)
        if listeners is None:
            listeners = self.streams[stream] = Listeners()
        return listeners

    def audience(self, endpoint):
        """Return (and hold) the audience of an endpoint's socket user."""
        key = (endpoint.stream, endpoint.get_visibility_key())
        audience = self.audiences.get(key)
        if audience is None:
            audience = Audience(endpoint.adapter, key[1], endpoint.scope)
            self.audiences[key] = audience
        audience.users += 1
        return audience

    def release(self, audience):
        audience.users -= 1
        if audience.users <= 0:
            self.audiences.pop((audience.stream, audience.key), None)

    def index(self, subscriber, joined=(), left=()):
        """Put a subscriber in (or take it out of) its groups' index."""
        listeners = self.listeners(subscriber.stream)
        listeners.subscribers.add(subscriber)
        for group in joined:
            listeners.by_group.setdefault(group, set()).add(subscriber)
        for group in left:
            members = listeners.by_group.get(group)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del listeners.by_group[group]

    def remove_subscriber(self, subscriber):
        self.index(subscriber, left=list(subscriber.groups))
        self.listeners(subscriber.stream).subscribers.discard(subscriber)
        self.release(subscriber.audience)

    # --- Changes -------------------------------------------------------------

    async def handle(self, batch):
        """Evaluate a batch of changes for their listeners, then deliver them."""
        plans = []
        for change in collapse_rechecks(batch):
            listeners = self.streams.get(change.stream)
            if listeners is None:
                continue
            queries = []
            for query in listeners.live_queries.values():
                if query.ready:
                    queries.append(query)
                else:
                    query.pending.append(change)
            subscribers = listeners.targets(change)
            if subscribers or queries:
                plans.append(Plan(change, subscribers, queries))
        if plans:
            await self.run_plans(plans)

    async def run_plans(self, plans):
        """Evaluate plans in the database thread, then deliver their frames."""
        await self.in_database(evaluate, plans)
        for plan in plans:
            delivered = 0  # Counted once per change: fan-out is the hot path.
            for subscriber in plan.subscribers:
                # No verdict (its evaluation failed): as if it saw nothing.
                verdict = plan.verdicts.get(subscriber.audience, Verdict())
                for key, frame in subscriber.react(plan.change, verdict):
                    await subscriber.deliver(key, frame)
                    delivered += 1
            metrics.events_delivered(plan.change.stream, delivered)
            for query in plan.queries:
                await query.react(plan.change, plan.results[query])

    async def evaluate_now(self, query, changes):
        """Evaluate changes for one live query (its catch-up), then deliver them."""
        plans = [Plan(change, set(), [query]) for change in changes]
        await self.in_database(evaluate, plans)
        for plan in plans:
            await query.react(plan.change, plan.results[query])

    async def in_database(self, function, *args):
        """Run `function` in the hub's own database thread."""
        async with ThreadSensitiveContext(executor=self.executor):
            return await sync_to_async(with_fresh_connection)(function, *args)


class Plan:
    """One change, who listens to it here, and (once evaluated) what they see."""

    __slots__ = ("change", "queries", "results", "subscribers", "verdicts")

    def __init__(self, change, subscribers, queries):
        self.change = change
        self.subscribers = subscribers
        self.queries = queries
        self.verdicts = {}  # Audience -> Verdict
        self.results = {}  # LiveQuery -> its evaluation


def evaluate(plans):
    """In the database thread: each audience, then each live query, once per batch."""
    # Audience or LiveQuery -> the changes of the batch it needs
    changes: dict[Any, Any] = {}
    for plan in plans:
        for audience in {s.audience for s in plan.subscribers}:
            changes.setdefault(audience, []).append(plan.change)
        for query in plan.queries:
            changes.setdefault(query.audience, []).append(plan.change)
            changes.setdefault(query, []).append(plan.change)
    verdicts = {}
    for audience, batch in changes.items():
        if isinstance(audience, Audience):
            verdicts[audience] = _safely(audience.evaluate, batch) or {}
    results = {}
    for query, batch in changes.items():
        if not isinstance(query, Audience):
            results[query] = _safely(query.evaluate, batch, verdicts[query.audience])
    for plan in plans:
        for audience, found in verdicts.items():
            if plan.change in found:
                plan.verdicts[audience] = found[plan.change]
        for query in plan.queries:
            plan.results[query] = (results[query] or {}).get(plan.change)


def _safely(function, batch, *args):
    """Run an evaluation; on an error, log it and deliver nothing (fail closed)."""
    try:
        return function(batch, *args)
    except Exception:
        logger.exception("Changes not evaluated: %s", [c.id for c in batch])
        return None
