"""Live queries (`watch`): a `list` that stays live, evaluated once per query.

Sockets of one audience (visibility key) that watch the same query share one
`LiveQuery`: the hub evaluates it once per change and sends `enter`,
`update` or `leave` to each of them.
"""

import itertools
import logging
from collections.abc import Iterator

from channels.db import database_sync_to_async
from rest_framework import exceptions

from realtime_api import conf
from realtime_api.delivery.changes import pk_value
from realtime_api.ops import metrics
from realtime_api.protocol import ProtocolError, dumps, event_frame, response_frame
from realtime_api.sockets.contract import ConsumerPart

logger = logging.getLogger(__name__)

# The query parameters of DRF's paginators: a watch's events cover the whole
# query, so they do not count in what a watch evaluates.
PAGINATION_ATTRIBUTES = (
    "page_query_param",
    "page_size_query_param",
    "limit_query_param",
    "offset_query_param",
    "cursor_query_param",
)


class Watcher:
    """One socket's watch of a live query."""

    def __init__(self, socket, watch_id, query):
        self.socket = socket
        self.watch_id = watch_id
        self.query = query


class LiveQuery:
    """A query watched by sockets that see the same objects."""

    def __init__(self, audience, query):
        self.audience = audience
        self.stream = audience.stream
        self.query = query
        self.members = set()  # pks that match now
        self.watchers = []
        self.ready = False  # True once the members are known and caught up
        self.starting = False
        self.pending = []  # changes heard before that

    def queryset(self):
        """The objects of the query for this audience now (none if refused).

        A query can stop being valid for a user (a filter on a topic that
        turned private): then it matches nothing, as its `list` would show.
        """
        try:
            return self.audience.endpoint.get_watch_queryset(self.query)
        except exceptions.APIException:
            return self.audience.adapter.model._default_manager.none()

    def evaluate(self, changes, verdicts):
        """In the database thread: where a batch of changes puts objects.

        Returns, per change, {pk: data JSON, or None where the object is not
        in the query}. The objects its audience may see are matched against
        the query in one query for the whole batch.
        """
        visible = {c.pk for c in changes if verdicts[c].visible}
        matching = self.matching(pk__in=visible) if visible else set()
        results = {}
        for change in changes:
            verdict = verdicts[change]
            if change.action == "recheck":
                now = self.matching(**change.filter) & verdict.visible_pks
                touched = (verdict.hidden | verdict.visible_pks) & self.members
                entering = self.audience.render_many(now - self.members)
                results[change] = {**dict.fromkeys(touched - now), **entering}
            elif verdict.visible and change.pk in matching:
                results[change] = {change.pk: verdict.data_json}
            else:
                results[change] = {change.pk: None}
        return results

    def matching(self, **lookups):
        """The pks of the query's objects among those `lookups` select."""
        pks = self.queryset().filter(**lookups).order_by().values_list("pk", flat=True)
        return {pk_value(pk) for pk in pks}

    async def react(self, change, result):
        """Update the members and tell the watchers (on the loop)."""
        for pk, data_json in sorted(
            (result or {}).items(), key=lambda item: str(item[0])
        ):
            was = pk in self.members
            if data_json is not None:
                self.members.add(pk)
                await self.send("update" if was else "enter", data_json, change)
            elif was:
                self.members.discard(pk)
                await self.send("leave", dumps({"id": pk}), change)

    async def send(self, action, data_json, change):
        delivered = 0
        for watcher in list(self.watchers):
            frame = event_frame(
                self.stream, action, data_json, change.seq, watch=watcher.watch_id
            )
            try:
                await watcher.socket.deliver(frame)
                delivered += 1
            except Exception:
                logger.warning("Watch frame not sent; dropping the watcher")
                metrics.events_dropped([self.stream], "deliver")
                self.watchers.remove(watcher)
        metrics.events_delivered(self.stream, delivered)


def watch_query(adapter, payload):
    """Return the list payload without pagination: events cover the whole query."""
    paginator = getattr(adapter.view, "pagination_class", None)
    names = {getattr(paginator, attr, None) for attr in PAGINATION_ATTRIBUTES}
    return {key: value for key, value in payload.items() if key not in names}


class WatchMixin(ConsumerPart):
    """`watch` and `unwatch` for the socket's consumer (state made on first use).

    Needs (sockets/contract.py): runtime, check_limit.
    Provides: handle_watch, end_watches, watches.
    """

    watches: dict[str, Watcher] | None = None  # watch id -> Watcher
    watch_ids: Iterator[int] | None = None

    async def handle_watch(self, endpoint, frame):
        if frame.lookup is not None:
            raise ProtocolError(400, f"Action '{frame.action}' takes no lookup.")
        if frame.action == "unwatch":
            return self.unwatch(frame)
        self.check_limit(
            len(self.watches or ()),
            conf.max_watches(),
            "watches",
            "REALTIME_API_MAX_WATCHES",
            "Unwatch one first.",
        )
        hub = self.runtime.hub
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
        watcher = self.add_watcher(
            endpoint, watch_query(endpoint.adapter, frame.payload)
        )
        live_query = watcher.query
        first = not (live_query.ready or live_query.starting)
        live_query.starting = True
        try:
            status, data_json, members = await database_sync_to_async(snapshot)(
                endpoint, frame.payload, live_query.query, first
            )
        except BaseException:
            live_query.starting = live_query.starting and not first
            self.remove_watcher(watcher)
            raise
        if status != 200:
            live_query.starting = live_query.starting and not first
            self.remove_watcher(watcher)
            return response_frame(frame, status, data_json)
        if first:
            await self.start(live_query, members)
        elif len(live_query.members) > conf.max_watch_matches():
            # Shared with a live query that grew past the bound since it began.
            self.remove_watcher(watcher)
            detail = too_many_matches(conf.max_watch_matches())
            return response_frame(frame, 400, dumps({"detail": detail}))
        assert self.watches is not None  # Made by add_watcher().
        self.watches[watcher.watch_id] = watcher
        metrics.WATCHES.labels(frame.stream).inc()
        return response_frame(frame, status, data_json, watch=watcher.watch_id)

    def add_watcher(self, endpoint, query):
        """Join (or start) the live query of this socket's audience."""
        hub = self.runtime.hub
        if self.watches is None or self.watch_ids is None:  # Made together.
            self.watches, self.watch_ids = {}, itertools.count(1)
        audience = hub.audience(endpoint)
        queries = hub.listeners(endpoint.stream).live_queries
        key = (audience.key, dumps(query))
        live_query = queries.get(key)
        if live_query is None:
            live_query = queries[key] = LiveQuery(audience, query)
        else:
            hub.release(audience)  # The live query holds it already.
        watcher = Watcher(self, f"w{next(self.watch_ids)}", live_query)
        live_query.watchers.append(watcher)
        return watcher

    async def start(self, live_query, members):
        """Make a new live query ready: its members, then the changes heard since."""
        live_query.members = members
        while live_query.pending:
            pending, live_query.pending = live_query.pending, []
            await self.runtime.hub.evaluate_now(live_query, pending)
        live_query.ready = True

    def remove_watcher(self, watcher):
        live_query = watcher.query
        if watcher in live_query.watchers:
            live_query.watchers.remove(watcher)
        if not live_query.watchers:
            hub = self.runtime.hub
            queries = hub.listeners(live_query.stream).live_queries
            key = (live_query.audience.key, dumps(live_query.query))
            if queries.get(key) is live_query:
                del queries[key]
                hub.release(live_query.audience)

    def unwatch(self, frame):
        watch_id = frame.payload.get("watch")
        if not isinstance(watch_id, str):
            raise ProtocolError(400, 'unwatch needs {"watch": "<the id of a watch>"}.')
        watches = self.watches or {}
        watcher = watches.get(watch_id)
        if watcher is None or watcher.query.stream != frame.stream:
            raise ProtocolError(404, f"No watch {watch_id!r} on this socket.")
        del watches[watch_id]
        metrics.WATCHES.labels(frame.stream).dec()
        self.remove_watcher(watcher)
        return response_frame(frame, 200, dumps({"detail": "unwatched"}))

    def end_watches(self):
        """End every watch of the socket on disconnect."""
        for watcher in (self.watches or {}).values():
            self.remove_watcher(watcher)
            metrics.WATCHES.labels(watcher.query.stream).dec()
        self.watches = None


def snapshot(endpoint, payload, query, with_members):
    """Answer the watch like `list`; return (status, data JSON, members).

    The members (pks of the whole query, unpaginated) are read only for a
    query that no other socket of this process watches yet. A live query
    keeps them all in memory (about 60 bytes a pk: bench/BENCHMARKS.md), so
    one that matches more than REALTIME_API_MAX_WATCH_MATCHES objects is
    refused (400) before they are read.
    """
    status, data_json = endpoint.dispatch("list", None, payload)
    members = None
    if status == 200 and with_members:
        limit = conf.max_watch_matches()
        pks = endpoint.get_watch_queryset(query).order_by().values_list("pk", flat=True)
        members = {pk_value(pk) for pk in pks[: limit + 1]}
        if len(members) > limit:
            return 400, dumps({"detail": too_many_matches(limit)}), None
    return status, data_json, members


def too_many_matches(limit):
    return (
        f"This query matches more than {limit} objects: a live query may follow "
        f"at most {limit} (REALTIME_API_MAX_WATCH_MATCHES). Narrow its filter, "
        "or read it with `list` and subscribe to what it shows."
    )
