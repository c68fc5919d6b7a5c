"""Subscriptions of a socket: the groups it joins, and replay with `since`."""

import json
import logging
from collections import Counter

from channels.db import database_sync_to_async

from .eventlog import get_event_log
from .protocol import ProtocolError, dumps, event_frame, response_frame
from .sessions import discard_groups

logger = logging.getLogger(__name__)


class SubscriptionMixin:
    """`subscribe` and `unsubscribe`, and the events they bring (a consumer mixin).

    State is created on first use: a socket that never subscribes holds none.
    """

    subscriptions = None  # (stream, filter JSON) -> groups
    group_members = None  # group -> how many subscriptions use it
    recent_events = None  # ids of the last events sent

    async def handle_subscription(self, endpoint, frame):
        if frame.lookup is not None:
            raise ProtocolError(
                400, f"Action '{frame.action}' takes no lookup: put it in the payload."
            )
        groups, matched, refused = await database_sync_to_async(endpoint.subscription)(
            frame.payload
        )
        if refused is not None:
            return response_frame(frame, *refused)
        key = (frame.stream, json.dumps(frame.payload, sort_keys=True))
        if frame.action == "unsubscribe":
            await self.leave(key)
            return response_frame(frame, 200, dumps({"detail": "unsubscribed"}))
        # Join first, then read the log: an event committed in between is
        # both replayed and delivered live, and the second copy is dropped.
        await self.join(key, groups)
        resumed = {}
        if frame.since is not None:
            resumed = await self.replay(frame.stream, frame.since, groups)
        data = {"detail": "subscribed", "matched": matched}
        return response_frame(frame, 200, dumps(data), **resumed)

    async def replay(self, stream, since, groups):
        """Queue the logged events after `since`; return the response's fields."""
        replay = await get_event_log().replay(stream, since, groups)
        if replay.too_old:
            return {"resumed": False, "reason": "too old"}
        frames = [
            event_frame(stream, event.action, event.data_json, event.seq)
            for event in replay.events
            if self.remember_event(event.id)
        ]

        async def send_replay():
            for frame in frames:
                await self.send(text_data=frame)

        self.then(send_replay)
        return {"resumed": True}

    async def join(self, key, groups):
        """Join the groups of a subscription (again: its groups are refreshed)."""
        if self.subscriptions is None:
            self.subscriptions, self.group_members = {}, Counter()
        new_groups = [group for group in groups if not self.group_members[group]]
        try:
            for group in new_groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:
            logger.exception("Channel layer unreachable: subscription refused")
            await discard_groups(self, new_groups)
            raise ProtocolError(
                503,
                "Subscriptions are unavailable: the server cannot reach its "
                "channel layer. Try again later.",
            ) from None
        self.group_members.update(groups)
        await self.leave(key)
        self.subscriptions[key] = groups

    async def leave(self, key):
        """Leave the groups of a subscription that no other subscription uses."""
        for group in (self.subscriptions or {}).pop(key, ()):
            self.group_members[group] -= 1
            if not self.group_members[group]:
                del self.group_members[group]
                await self.channel_layer.group_discard(group, self.channel_name)

    async def end_subscriptions(self):
        """Leave every group on disconnect."""
        await discard_groups(self, list(self.group_members or ()))

    async def realtime_event(self, message):
        """Send an event frame, once even when several subscriptions match it."""
        if self.remember_event(message["id"]):
            await self.send(text_data=message["text"])

    def remember_event(self, event_id):
        """Note an event as sent; False when it was sent already."""
        if self.recent_events is None:
            self.recent_events = RecentIds()
        return self.recent_events.add(event_id)


class RecentIds:
    """The ids of the last `size` events a socket was sent (a bounded set)."""

    def __init__(self, size=1024):
        self.size = size
        self.ids = {}

    def add(self, event_id):
        """Add an id; False when it is there already."""
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        if len(self.ids) > self.size:
            del self.ids[next(iter(self.ids))]
        return True
