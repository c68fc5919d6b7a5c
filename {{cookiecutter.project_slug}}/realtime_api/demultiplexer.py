"""APIDemultiplexer: the consumer that serves every registered stream."""

import json
import logging
from collections import Counter
from functools import cached_property

from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured

from . import broadcast, conf, requests
from .eventlog import get_event_log
from .protocol import (
    ACTIONS,
    ProtocolError,
    RequestFrame,
    dumps,
    error_frame,
    event_frame,
    parse_request,
    response_frame,
)
from .sessions import GroupUserConsumer, discard_groups
from .watch import get_hub

logger = logging.getLogger(__name__)


class APIDemultiplexer(GroupUserConsumer):
    """One socket, many streams: routes each request frame to its endpoint.

    Register endpoints with `APIDemultiplexer.register(TopicConsumer, ...)`.
    Each subclass has a registry of its own, so several sockets can serve
    different sets of streams.
    """

    endpoints = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.endpoints = {}

    @classmethod
    def register(cls, *endpoint_classes):
        """Serve these APIConsumer classes, and broadcast their changes."""
        for endpoint_cls in endpoint_classes:
            endpoint_cls.check()
            taken = cls.endpoints.get(endpoint_cls.stream)
            if taken is not None and taken is not endpoint_cls:
                raise ImproperlyConfigured(
                    f"Stream '{endpoint_cls.stream}' is registered twice on "
                    f"{cls.__qualname__}: by {_name(taken)} and {_name(endpoint_cls)}."
                )
            cls.endpoints[endpoint_cls.stream] = endpoint_cls
            broadcast.register_endpoint(endpoint_cls)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Created on first use: a socket that never subscribes holds nothing.
        self.subscriptions = None  # (stream, filter JSON) -> groups
        self.group_members = None  # group -> how many subscriptions use it
        self.recent_events = None  # ids of the last events sent
        self.follow_up = []  # frames to send right after the current response
        self.watches = None  # watch id -> Watcher
        self.starting_watchers = []  # watches whose response is being sent

    @cached_property
    def http_scope(self):
        return requests.http_scope(self.scope)

    async def connect(self):
        route_kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        self.bound_stream = route_kwargs.get("stream")
        if self.bound_stream is not None and self.bound_stream not in self.endpoints:
            await self.close()  # Refuses the handshake: HTTP 403.
            return
        await super().connect()

    async def disconnect(self, code):
        for watcher in (self.watches or {}).values():
            get_hub().remove(watcher)
        await discard_groups(self, list(self.group_members or ()))
        await super().disconnect(code)

    # Requests -----------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        frame = RequestFrame()
        try:
            reply = await self.handle(frame, text_data)
        except ProtocolError as exc:
            reply = error_frame(frame, exc.status, exc.detail)
        except Exception:
            logger.exception("Request failed: %s", frame)
            reply = error_frame(frame, 500, "Internal server error.")
        await self.send(text_data=reply)
        while self.follow_up:
            await self.send(text_data=self.follow_up.pop(0))
        while self.starting_watchers:
            await self.starting_watchers.pop(0).release()

    async def handle(self, frame, text):
        """Answer one request frame; return the response frame."""
        if text is None:
            raise ProtocolError(
                400, "Binary frames are not supported: send JSON in a text frame."
            )
        limit = conf.max_frame_bytes()
        if len(text) > limit or len(text.encode()) > limit:
            raise ProtocolError(413, f"The frame is larger than {limit} bytes.")
        parse_request(text, frame, self.bound_stream)
        endpoint_cls = self.get_endpoint_class(frame)
        endpoint = endpoint_cls(self.scope, self.http_scope)
        if frame.action in ("subscribe", "unsubscribe"):
            return await self.handle_subscription(endpoint, frame)
        if frame.action in ("watch", "unwatch"):
            return await self.handle_watch(endpoint, frame)
        status, data_json = await database_sync_to_async(endpoint.dispatch)(
            frame.action, frame.lookup, frame.payload
        )
        return response_frame(frame, status, data_json)

    def get_endpoint_class(self, frame):
        """Return the endpoint for the frame's stream, if it may do the action."""
        if self.bound_stream is not None and frame.stream != self.bound_stream:
            raise ProtocolError(
                404,
                f"Unknown stream '{frame.stream}': this socket serves "
                f"'{self.bound_stream}' only.",
            )
        endpoint_cls = self.endpoints.get(frame.stream)
        if endpoint_cls is None:
            raise ProtocolError(
                404,
                f"Unknown stream '{frame.stream}'. "
                f"Streams: {', '.join(sorted(self.endpoints)) or 'none'}.",
            )
        if frame.action not in ACTIONS:
            raise ProtocolError(
                405,
                f"Unknown action '{frame.action}'. Use one of: {', '.join(ACTIONS)}.",
            )
        if frame.action not in endpoint_cls.get_allowed_actions():
            raise ProtocolError(
                405,
                f"Action '{frame.action}' is not allowed on stream '{frame.stream}'.",
            )
        return endpoint_cls

    # Subscriptions ------------------------------------------------------------

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
        for event in replay.events:
            if self.remember_event(event.id):
                self.follow_up.append(
                    event_frame(stream, event.action, event.data_json, event.seq)
                )
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

    # Live queries -------------------------------------------------------------

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
        self.starting_watchers.append(watcher)
        return response_frame(frame, status, data_json, watch=watcher.watch_id)

    def unwatch(self, frame):
        watch_id = frame.payload.get("watch")
        watcher = (self.watches or {}).get(watch_id)
        if watcher is None or watcher.query.stream != frame.stream:
            raise ProtocolError(404, f"No watch {watch_id!r} on this socket.")
        del self.watches[watch_id]
        get_hub().remove(watcher)
        return response_frame(frame, 200, dumps({"detail": "unwatched"}))

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


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"
