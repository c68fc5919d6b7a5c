"""Live queries (`watch`): a `list` that stays live, evaluated once per query.

Each server process has one `WatchHub`. It hears of every change of the
streams its sockets watch, and evaluates each distinct query (the same
filters for the same visibility) once per change, however many sockets
watch it; then it sends `enter`, `update` or `leave` to those sockets.
"""

import asyncio
import itertools
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from .broadcast import watch_group
from .fanout import one_per_loop
from .protocol import ProtocolError, dumps, event_frame, response_frame

logger = logging.getLogger(__name__)


class Watcher:
    """One socket's watch of a live query."""

    def __init__(self, consumer, watch_id, query):
        self.consumer = consumer
        self.watch_id = watch_id
        self.query = query

    async def send(self, frame):
        # Held by the socket until the watch's response has been sent.
        await self.consumer.deliver(frame)


class LiveQuery:
    """A query watched by one or more sockets that see the same objects."""

    def __init__(self, endpoint, query):
        self.endpoint = endpoint  # Bound to the scope of the first watcher.
        self.stream = endpoint.stream
        self.query = query
        self.members = set()  # pks that match now
        self.watchers = []
        self.ready = False  # False until the members are known
        self.pending = []  # changes heard before that

    def transition(self, change):
        """Return how a change moves an object relative to the query (sync)."""
        pk = change["pk"]
        matches = change["action"] != "delete" and self.endpoint.watch_matches(
            self.query, pk
        )
        was = pk in self.members
        if matches:
            self.members.add(pk)
            return "update" if was else "enter"
        if was:
            self.members.discard(pk)
            return "leave"
        return None

    async def send(self, action, change):
        data = change["data"] if action != "leave" else dumps({"id": change["pk"]})
        for watcher in list(self.watchers):
            frame = event_frame(
                self.stream, action, data, change["seq"], watch=watcher.watch_id
            )
            try:
                await watcher.send(frame)
            except Exception:
                logger.warning("Watch frame not sent; dropping the watcher")
                self.watchers.remove(watcher)


class WatchHub:
    """The live queries of one process, and the changes that move them."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.channel = None
        self.streams = set()
        self.queries = {}  # key -> LiveQuery
        self.task = None
        self.watch_ids = itertools.count(1)
        self.opening = asyncio.Lock()

    async def listen(self, stream):
        """Hear of every change of `stream` from now on (every process's)."""
        async with self.opening:  # Concurrent first watches: one channel, one add.
            if self.channel is None:
                self.channel = await self.layer.new_channel()  # See fanout.py.
                self.task = asyncio.create_task(self.run())
            if stream not in self.streams:
                await self.layer.group_add(watch_group(stream), self.channel)
                self.streams.add(stream)

    async def run(self):
        while True:
            change = await self.layer.receive(self.channel)
            try:
                await self.on_change(change)
            except Exception:
                logger.exception("Live queries not evaluated for %s", change)

    async def on_change(self, change):
        queries = [q for q in self.queries.values() if q.stream == change["stream"]]
        for query in queries:
            if not query.ready:
                query.pending.append(change)
        await self.evaluate([q for q in queries if q.ready], change)

    async def evaluate(self, queries, change):
        """Evaluate a change against queries: one database hop in all."""
        if not queries:
            return

        def transitions():
            return [(query, query.transition(change)) for query in queries]

        for query, action in await database_sync_to_async(transitions)():
            if action is not None:
                await query.send(action, change)

    def add(self, consumer, endpoint, query):
        """Register a socket's watch; return its Watcher (not yet ready)."""
        key = (endpoint.stream, endpoint.get_visibility_key(), dumps(query))
        live_query = self.queries.get(key)
        if live_query is None:
            live_query = self.queries[key] = LiveQuery(endpoint, query)
        watcher = Watcher(consumer, f"w{next(self.watch_ids)}", live_query)
        live_query.watchers.append(watcher)
        return watcher

    def remove(self, watcher):
        query = watcher.query
        if watcher in query.watchers:
            query.watchers.remove(watcher)
        if not query.watchers:
            for key, live_query in list(self.queries.items()):
                if live_query is query:
                    del self.queries[key]

    async def start(self, watcher, members):
        """Make a new query ready with its members, then catch up on changes."""
        query = watcher.query
        if query.ready:
            return
        query.members, query.ready = members, True
        pending, query.pending = query.pending, []
        for change in pending:
            await self.evaluate([query], change)


class WatchMixin:
    """`watch` and `unwatch` for a consumer (its state is created on first use)."""

    watches = None  # watch id -> Watcher

    async def handle_watch(self, endpoint, frame):
        if frame.lookup is not None:
            raise ProtocolError(400, f"Action '{frame.action}' takes no lookup.")
        if frame.action == "unwatch":
            return self.unwatch(frame)
        hub = get_hub()
        try:
            # Hear of changes before reading the snapshot: none is missed.
            await hub.listen(frame.stream)
        except Exception:
            logger.exception("Channel layer unreachable: watch refused")
            raise ProtocolError(
                503,
                "Live queries are unavailable: the server cannot reach its "
                "channel layer. Try again later.",
            ) from None
        watcher = hub.add(self, endpoint, endpoint.get_watch_query(frame.payload))
        try:
            status, data_json, members = await database_sync_to_async(
                endpoint.watch_snapshot
            )(frame.payload, not watcher.query.ready)
        except BaseException:
            hub.remove(watcher)
            raise
        if status != 200:
            hub.remove(watcher)
            return response_frame(frame, status, data_json)
        if members is not None:
            await hub.start(watcher, members)
        if self.watches is None:
            self.watches = {}
        self.watches[watcher.watch_id] = watcher
        return response_frame(frame, status, data_json, watch=watcher.watch_id)

    def unwatch(self, frame):
        watch_id = frame.payload.get("watch")
        if not isinstance(watch_id, str):
            raise ProtocolError(400, 'unwatch needs {"watch": "<the id of a watch>"}.')
        watcher = (self.watches or {}).get(watch_id)
        if watcher is None or watcher.query.stream != frame.stream:
            raise ProtocolError(404, f"No watch {watch_id!r} on this socket.")
        del self.watches[watch_id]
        get_hub().remove(watcher)
        return response_frame(frame, 200, dumps({"detail": "unwatched"}))

    def end_watches(self):
        """End every watch of the socket on disconnect."""
        for watcher in (self.watches or {}).values():
            get_hub().remove(watcher)


# The hub of the running event loop (one per server process).
get_hub = one_per_loop(WatchHub)
