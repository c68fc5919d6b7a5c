"""A socket's subscriptions: the groups they join, what they deliver, `since`.

A socket has one `Subscriber` per stream it subscribes to. It remembers the
objects it has told the client of (matched when subscribing, or delivered
since), so that it can send `leave` once when one of them may no longer be
seen or leaves the subscription's groups, and nothing about it after that.
"""

import json
import logging
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async

from realtime_api import conf
from realtime_api.delivery.changes import collapse_rechecks
from realtime_api.ops import metrics
from realtime_api.protocol import ProtocolError, dumps, event_frame, response_frame
from realtime_api.sockets.contract import ConsumerPart
from realtime_api.streams.endpoints import Refused

logger = logging.getLogger(__name__)


# Why a subscription that joined no group will never hear anything.
NOTHING_TO_HEAR = (
    "Nothing matches this filter now, so this subscription will hear of "
    "nothing: a subscription follows the objects it matched (and the groups "
    "its endpoint adds for some filters), not objects that match it later. "
    "For a live query of a filter, use `watch`."
)


class RecentIds:
    """The keys of the last `size` events sent (a bounded set)."""

    def __init__(self, size=1024):
        self.size = size
        self.ids = {}

    def add(self, key):
        """Add a key; False when it is there already."""
        if key in self.ids:
            return False
        self.ids[key] = None
        if len(self.ids) > self.size:
            del self.ids[next(iter(self.ids))]
        return True


class Subscriber:
    """One socket's subscriptions to one stream."""

    def __init__(self, socket, stream, audience):
        self.socket = socket
        self.stream = stream
        self.audience = audience
        self.filters = {}  # filter JSON -> the groups of that subscription
        # group -> how many of the filters joined it
        self.groups: Counter[str] = Counter()
        self.known = set()  # pks the client was told of and not told to drop

    def add(self, key, groups, matched):
        """Add (or refresh) a subscription; return the groups newly joined."""
        before = set(self.groups)
        self.remove(key)
        self.filters[key] = groups
        metrics.SUBSCRIPTIONS.labels(self.stream).inc()
        self.groups.update(groups)
        self.known.update(matched)
        return set(self.groups) - before

    def remove(self, key):
        """Remove a subscription; return the groups no filter uses any more."""
        unused: list[str] = []
        if key not in self.filters:
            return unused
        metrics.SUBSCRIPTIONS.labels(self.stream).dec()
        for group in self.filters.pop(key):
            self.groups[group] -= 1
            if not self.groups[group]:
                del self.groups[group]
                unused.append(group)
        return unused

    def react(self, change, verdict):
        """Return the (dedupe key, frame) pairs a change means for this socket."""
        pk = change.pk
        if change.action == "recheck":
            leaving = self.known & verdict.hidden
            self.known -= leaving
            return [
                (f"{change.id}/{pk}", self.leave(pk, change)) for pk in sorted(leaving)
            ]
        if change.action == "delete":
            if pk not in self.known:
                return []
            self.known.discard(pk)
            return [(change.id, self.frame(change, "delete", change.deleted_json))]
        if verdict.visible and not self.groups.keys().isdisjoint(change.groups):
            self.known.add(pk)
            frame = verdict.frames.get(change.action)
            if frame is None:  # Built once per audience and change.
                frame = self.frame(change, change.action, verdict.data_json)
                verdict.frames[change.action] = frame
            return [(change.id, frame)]
        if pk in self.known:
            self.known.discard(pk)
            return [(change.id, self.leave(pk, change))]
        return []

    def frame(self, change, action, data_json):
        return event_frame(self.stream, action, data_json, change.seq)

    def leave(self, pk, change):
        return self.frame(change, "leave", dumps({"id": pk}))

    async def deliver(self, key, frame):
        await self.socket.deliver(frame, key)


class SubscriptionMixin(ConsumerPart):
    """`subscribe` and `unsubscribe` for the socket's consumer.

    State is created on first use: a socket that never subscribes holds none.

    Needs (sockets/contract.py): runtime, send, then, check_limit.
    Provides: handle_subscription, end_subscriptions, remember, subscribers.
    """

    subscribers: dict[str, Subscriber] | None = None  # stream -> Subscriber
    recent_events: RecentIds | None = None  # keys of the events sent since a replay

    async def handle_subscription(self, endpoint, frame):
        if frame.lookup is not None:
            raise ProtocolError(
                400, f"Action '{frame.action}' takes no lookup: put it in the payload."
            )
        hub = self.runtime.hub
        key = json.dumps(frame.payload, sort_keys=True)
        if frame.action == "subscribe":
            self.check_subscription_limit(frame.stream, key)
            try:
                # Hear of changes before evaluating the filter: none is missed.
                await hub.listen(frame.stream)
            except Exception:
                logger.exception("Channel layer unreachable: subscription refused")
                raise ProtocolError(
                    503,
                    "Subscriptions are unavailable: the server cannot reach its "
                    "channel layer. Try again later.",
                ) from None
        try:
            subscription = await database_sync_to_async(endpoint.subscribe)(
                frame.payload
            )
        except Refused as refused:
            return response_frame(frame, refused.status, refused.data_json)
        if frame.action == "unsubscribe":
            self.unsubscribe(frame.stream, key)
            return response_frame(frame, 200, dumps({"detail": "unsubscribed"}))
        subscriber = self.subscriber(endpoint)
        joined = subscriber.add(key, subscription.groups, subscription.matched)
        hub.index(subscriber, joined=joined)
        resumed = {}
        if frame.since is not None:
            resumed = await self.replay(subscriber, frame.since, subscription.groups)
        data = {"detail": "subscribed", "matched": len(subscription.matched)}
        if not subscription.groups:
            data["warning"] = NOTHING_TO_HEAR
        return response_frame(frame, 200, dumps(data), **resumed)

    def check_subscription_limit(self, stream, key):
        """Refuse a new subscription past REALTIME_API_MAX_SUBSCRIPTIONS (429)."""
        subscribers = self.subscribers or {}
        if key in getattr(subscribers.get(stream), "filters", ()):
            return  # The same filter again replaces it.
        held = sum(len(subscriber.filters) for subscriber in subscribers.values())
        self.check_limit(
            held,
            conf.max_subscriptions(),
            "subscriptions",
            "REALTIME_API_MAX_SUBSCRIPTIONS",
            "Unsubscribe from one first.",
        )

    def subscriber(self, endpoint):
        """Return the socket's Subscriber of the endpoint's stream (made once)."""
        if self.subscribers is None:
            self.subscribers = {}
        subscriber = self.subscribers.get(endpoint.stream)
        if subscriber is None:
            audience = self.runtime.hub.audience(endpoint)
            subscriber = Subscriber(self, endpoint.stream, audience)
            self.subscribers[endpoint.stream] = subscriber
        return subscriber

    def unsubscribe(self, stream, key):
        subscribers = self.subscribers or {}
        subscriber = subscribers.get(stream)
        if subscriber is None:
            return
        self.runtime.hub.index(subscriber, left=subscriber.remove(key))
        if not subscriber.filters:
            del subscribers[stream]
            self.runtime.hub.remove_subscriber(subscriber)

    def end_subscriptions(self):
        """Forget every subscription on disconnect."""
        for subscriber in (self.subscribers or {}).values():
            self.runtime.hub.remove_subscriber(subscriber)
            metrics.SUBSCRIPTIONS.labels(subscriber.stream).dec(len(subscriber.filters))
        self.subscribers = None

    async def replay(self, subscriber, since, groups):
        """Queue what changed after `since`; return the response's fields."""
        replay = await self.runtime.event_log.replay(subscriber.stream, since, groups)
        if replay.too_old:
            return {"resumed": False, "reason": "too old", "gap": True}
        changes = collapse_rechecks(replay.changes)
        if replay_cost(changes) > conf.max_replay_changes():
            # Cheaper for both to re-read: answered as for a gap.
            metrics.overload("replay")
            return {"resumed": False, "reason": "too many changes", "gap": True}
        frames = await database_sync_to_async(replay_frames)(
            subscriber, changes, groups
        )
        if self.recent_events is None:
            self.recent_events = RecentIds()

        async def send_replay():
            for key, pk, visible, frame in frames:
                if visible:
                    subscriber.known.add(pk)
                else:
                    subscriber.known.discard(pk)
                if self.remember(key):
                    await self.send(text_data=frame)

        self.then(send_replay)
        return {"resumed": True}

    def remember(self, key):
        """False for an event sent already (tracked only once a replay ran)."""
        if key is None or self.recent_events is None:
            return True
        return self.recent_events.add(key)


# What a recheck costs a replay, counted in objects: it reads its objects
# for the audience (about 3 queries), where the changed objects are read
# together, in one.
RECHECK_COST = 20


def replay_cost(changes):
    """The cost of a replay: one per object, RECHECK_COST per recheck."""
    objects = {change.pk for change in changes if change.action != "recheck"}
    rechecks = sum(1 for change in changes if change.action == "recheck")
    return len(objects) + RECHECK_COST * rechecks


def replay_frames(subscriber, changes, groups):
    """In the database thread: what a resuming client needs, as its user sees it now.

    For each object changed after `since` (in the order of its last change):
    its current state if this user may see it and it is in the subscription's
    groups; otherwise `delete` or `leave` with its id, unless it was created
    after `since` (the client never had it). Objects are read as they are
    now, so a client that missed several changes of one object gets one
    event, with the seq of the last.

    Returns (dedupe key, pk, visible, frame) tuples.
    """
    audience = subscriber.audience
    # pk -> (dedupe key, its last change), in the order of last changes
    last: dict[Any, tuple[str, Any]] = {}
    created = set()
    for change in changes:
        if change.action == "recheck":
            pks = audience.in_groups(audience.recheck(change.filter).hidden, groups)
            touched = [(pk, f"{change.id}/{pk}") for pk in sorted(pks)]
        else:
            touched = [(change.pk, change.id)]
            if change.action == "create":
                created.add(change.pk)
        for pk, key in touched:
            last.pop(pk, None)
            last[pk] = (key, change)
    alive = [pk for pk, (_, change) in last.items() if change.action != "delete"]
    objects = audience.visible_objects(alive)
    frames = []
    for pk, (key, change) in last.items():
        obj = objects.get(pk)
        if obj is not None and not groups.isdisjoint(audience.groups_of(obj)):
            action = "create" if pk in created else change.action
            action = "update" if action == "recheck" else action
            frame = subscriber.frame(change, action, audience.endpoint.render(obj))
            frames.append((key, pk, True, frame))
        elif pk in created:
            continue  # Created after `since` and gone: the client never had it.
        elif change.action == "delete":
            frame = subscriber.frame(change, "delete", change.deleted_json)
            frames.append((key, pk, False, frame))
        else:
            # Its own key: a later subscription's replay may find the same
            # change in its groups, and its `update` must not pass for a
            # duplicate of this `leave` (several subscriptions of a stream
            # resume one by one).
            leave = subscriber.leave(pk, change)
            frames.append((f"{key}/leave", pk, False, leave))
    return frames
