"""Subscriptions of a socket: the groups it joins, and replay with `since`."""

import json
import logging
from collections import Counter

from channels.db import database_sync_to_async

from .eventlog import get_event_log
from .fanout import RecentIds, get_fanout
from .protocol import ProtocolError, dumps, event_frame, response_frame

logger = logging.getLogger(__name__)


class SubscriptionMixin:
    """`subscribe` and `unsubscribe`, and the events they bring (a consumer mixin).

    State is created on first use: a socket that never subscribes holds none.
    """

    subscriptions = None  # (stream, filter JSON) -> groups
    group_members = None  # group -> how many subscriptions use it
    recent_events = None  # ids of the events sent since a replay

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
        if self.recent_events is None:
            self.recent_events = RecentIds()
        frames = [
            event_frame(stream, event.action, event.data_json, event.seq)
            for event in replay.events
            if self.recent_events.add(event.id)
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
        fanout = get_fanout()
        joined = []
        try:
            for group in groups:
                if not self.group_members[group]:
                    await fanout.add(group, self)
                    joined.append(group)
        except Exception:
            logger.exception("Channel layer unreachable: subscription refused")
            await self.leave_groups(joined)
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
        unused = []
        for group in (self.subscriptions or {}).pop(key, ()):
            self.group_members[group] -= 1
            if not self.group_members[group]:
                del self.group_members[group]
                unused.append(group)
        await self.leave_groups(unused)

    async def leave_groups(self, groups):
        fanout = get_fanout()
        try:
            for group in groups:
                await fanout.discard(group, self)
        except Exception:
            logger.warning("Channel layer unreachable: groups not left", exc_info=True)

    async def end_subscriptions(self):
        """Leave every group on disconnect."""
        await self.leave_groups(list(self.group_members or ()))

    async def deliver_event(self, event_id, text):
        """Send an event frame, unless a replay sent it already."""
        if self.held is not None:
            self.held.append((event_id, text))
        elif self.remember(event_id):
            await self.send(text_data=text)

    def remember(self, event_id):
        """False for an event sent already (only tracked once a replay ran)."""
        return self.recent_events is None or self.recent_events.add(event_id)
