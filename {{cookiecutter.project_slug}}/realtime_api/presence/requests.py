"""Presence on a socket: `join`, `leave` and `signal` (PROTOCOL.md "Presence").

Joining an object is a `retrieve` of it for the socket's user. The socket
then listens to the object's changes through the hub, as a subscriber does
(`PresenceListener`): each change is evaluated once per audience, and a
socket whose user may no longer see the object (made private, deleted, a
recheck) is taken out, and the others are told. Who is present, across
processes, is the PresenceHub's business (presence_hub.py).
"""

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

from channels.db import database_sync_to_async

from realtime_api import conf
from realtime_api.delivery.changes import pk_value
from realtime_api.protocol import ProtocolError, dumps, response_frame
from realtime_api.sockets.contract import ConsumerPart
from realtime_api.streams.endpoints import Refused

logger = logging.getLogger(__name__)

# The largest signal payload, as compact JSON in UTF-8 (PROTOCOL.md: 1 KiB).
MAX_SIGNAL_BYTES = 1024


@dataclass(slots=True)
class Target:
    """An object to join: found for the socket's user, as `retrieve` finds it."""

    pk: object
    lookup: str  # The object's lookup value, as event frames name it.
    groups: frozenset  # The groups its changes are published to, listened to.
    user: str  # The socket's user's pk: present once, however many sockets.
    member: dict | None  # How that user appears to the others.


def find_target(endpoint, lookup, check=True):
    """In the database thread: the object `lookup` names, for this socket's user."""
    obj = endpoint.presence_object(lookup, check)
    groups = set(endpoint.get_group_names(obj))
    # The object's own group hears every change of it and nothing else; an
    # endpoint whose groups leave it out is heard through all of them.
    own = endpoint.object_group(obj.pk)
    return Target(
        pk=pk_value(obj.pk),
        lookup=lookup_value(endpoint, obj, lookup),
        groups=frozenset({own} if own in groups else groups),
        user=str(endpoint.request.user.pk),
        member=endpoint.get_presence_member(endpoint.request.user),
    )


def lookup_value(endpoint, obj, given):
    """The object's value of the view's lookup field ("3" for pk 3), else `given`."""
    value = obj
    field = endpoint.lookup_field or getattr(endpoint.view, "lookup_field", "pk")
    try:
        for part in field.split("__"):
            value = getattr(value, part)
    except AttributeError:
        return given
    return str(value)


class Joined:
    """One object a socket is present on."""

    __slots__ = ("groups", "joining", "lookup", "revoked")

    def __init__(self, lookup, groups):
        self.lookup = lookup
        self.groups = set(groups)
        self.joining = True  # Until the PresenceHub has it.
        self.revoked = False  # Hidden from the user meanwhile.


class PresenceListener:
    """One socket's presence on one stream, as the hub's listener of changes.

    The hub treats it as a subscriber of the joined objects' groups: it
    evaluates each change once per audience and calls `react()`, which takes
    the socket out of objects its user may no longer see.
    """

    def __init__(self, socket, stream, audience, member):
        self.socket = socket
        self.stream = stream
        self.audience = audience
        self.member = member
        self.rooms = {}  # pk -> Joined
        self.lookups = {}  # lookup -> pk
        self.groups: Counter[str] = Counter()  # group -> joined objects that are in it

    @property
    def known(self):
        """The pks joined (the hub sends a `recheck` to listeners that know some)."""
        return self.rooms.keys()

    def room_key(self, pk):
        return f"{self.stream}:{pk}"

    def add(self, target):
        """Listen to the object's changes; return the groups newly joined."""
        self.rooms[target.pk] = Joined(target.lookup, target.groups)
        self.lookups[target.lookup] = target.pk
        return self._count(target.groups, 1)

    def remove(self, pk):
        """Stop listening to the object; return the groups no object uses now."""
        joined = self.rooms.pop(pk)
        if self.lookups.get(joined.lookup) == pk:
            del self.lookups[joined.lookup]
        return self._count(joined.groups, -1)

    def _count(self, groups, step):
        """Count the groups in (step 1) or out (-1); return those joined or left."""
        changed = []
        for group in groups:
            self.groups[group] += step
            if self.groups[group] == (1 if step > 0 else 0):
                changed.append(group)
            if self.groups[group] <= 0:
                del self.groups[group]
        return changed

    def react(self, change, verdict):
        """Take the socket out of the objects its user may no longer see.

        Returns no frames: the PresenceHub tells the sockets present.
        """
        if change.action == "recheck":
            hidden = set(self.known) & verdict.hidden
        elif change.pk not in self.rooms:
            hidden = set()
        elif change.action == "delete" or not verdict.visible:
            hidden = {change.pk}
        else:
            self._regroup(change.pk, change.groups)
            hidden = set()
        for pk in hidden:
            self.rooms[pk].revoked = True
            self.socket.runtime.presence.spawn(self.socket.revoke_presence(self, pk))
        return []

    def _regroup(self, pk, groups):
        """Follow an object into its new groups (when its own is not one of them)."""
        own = self.audience.endpoint.object_group(pk)
        wanted = {own} if own in groups else set(groups)
        joined = self.rooms[pk]
        if wanted == joined.groups:
            return
        left = self._count(joined.groups - wanted, -1)
        added = self._count(wanted - joined.groups, 1)
        joined.groups = wanted
        self.socket.runtime.hub.index(self, joined=added, left=left)


class SignalBucket:
    """A token bucket: how many signals a socket may send, and when."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self):
        """Take a token; return 0, or the seconds to wait for one."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return (1 - self.tokens) / self.rate


class PresenceMixin(ConsumerPart):
    """`join`, `leave` and `signal` for the socket's consumer (state made on use).

    Needs (sockets/contract.py): runtime, then, budget.
    Provides: handle_presence, end_presence, revoke_presence.
    """

    presence_listeners: dict[str, PresenceListener] | None = None  # by stream
    signal_bucket: SignalBucket | None = None

    async def handle_presence(self, endpoint, frame):
        endpoint.check_lookup(frame.action, frame.lookup)
        if frame.action == "join":
            return await self.join_presence(endpoint, frame)
        listener = (self.presence_listeners or {}).get(frame.stream)
        pk = listener.lookups.get(frame.lookup) if listener is not None else None
        if frame.action == "leave":
            if pk is not None:
                await self.leave_presence(listener, pk)
            return response_frame(frame, 200, dumps({"detail": "left"}))
        if pk is None or listener is None or listener.rooms[pk].joining:
            raise ProtocolError(
                403,
                f"Join first: send '{frame.stream}/join/{frame.lookup}/', then "
                "signal the others present.",
            )
        return await self.send_signal(listener, pk, frame)

    async def join_presence(self, endpoint, frame):
        hub = self.runtime.hub
        try:
            # Hear of the object's changes before reading it: none is missed.
            await hub.listen(frame.stream)
        except Exception:
            logger.exception("Channel layer unreachable: join refused")
            raise ProtocolError(503, unavailable()) from None
        try:
            target = await database_sync_to_async(find_target)(endpoint, frame.lookup)
        except Refused as refused:
            return response_frame(frame, refused.status, refused.data_json)
        if target.member is None:
            raise ProtocolError(
                403, "Log in to join: presence shows the others who is here."
            )
        listener = self.presence_listener(endpoint, target.member)
        if target.pk not in listener.rooms:
            refusal = await self.start_listening(listener, endpoint, frame, target)
            if refusal is not None:
                self.drop_if_unused(listener)
                return refusal
        joined = listener.rooms[target.pk]
        try:
            members = await self.runtime.presence.join(
                self, frame.stream, target.pk, target.lookup, target.user, target.member
            )
        except Exception:
            logger.exception("Presence store unreachable: join refused")
            if joined.joining:
                self.stop_listening(listener, target.pk)
            raise ProtocolError(503, unavailable()) from None
        if joined.joining:
            joined.joining = False
            if joined.revoked:  # Hidden while joining: out at once.
                self.then(lambda: self.revoke_presence(listener, target.pk))
        return response_frame(frame, 200, dumps({"members": members}))

    async def start_listening(self, listener, endpoint, frame, target):
        """Listen to the object's changes, then check it again; a refusal or None.

        A change committed while the object was first read reaches the
        listener now, or shows in the second read.
        """
        limit = conf.presence_max_rooms()
        listeners = (self.presence_listeners or {}).values()
        if sum(len(other.rooms) for other in listeners) >= limit:
            return response_frame(
                frame,
                429,
                dumps(
                    {
                        "detail": f"This socket is present on {limit} objects, the "
                        "most allowed (REALTIME_API_PRESENCE_MAX_ROOMS): leave one "
                        "first."
                    }
                ),
            )
        self.runtime.hub.index(listener, joined=listener.add(target))
        try:
            # As the hub checks a change: the view's queryset and object
            # permissions for this user (the filter backends, costly, once).
            check = listener.audience.visible_object
            if await database_sync_to_async(check)(target.pk) is not None:
                return None
            await database_sync_to_async(find_target)(endpoint, frame.lookup, False)
        except Refused as refused:  # What `retrieve` answers now.
            self.stop_listening(listener, target.pk)
            return response_frame(frame, refused.status, refused.data_json)
        except BaseException:
            self.stop_listening(listener, target.pk)
            raise
        self.stop_listening(listener, target.pk)
        raise ProtocolError(404, "Not found.")

    def presence_listener(self, endpoint, member):
        """Return the socket's PresenceListener of the endpoint's stream."""
        if self.presence_listeners is None:
            self.presence_listeners = {}
        listener = self.presence_listeners.get(endpoint.stream)
        if listener is None:
            audience = self.runtime.hub.audience(endpoint)
            listener = PresenceListener(self, endpoint.stream, audience, member)
            self.presence_listeners[endpoint.stream] = listener
        return listener

    def stop_listening(self, listener, pk):
        self.runtime.hub.index(listener, left=listener.remove(pk))
        self.drop_if_unused(listener)

    def drop_if_unused(self, listener):
        """Forget a listener present on nothing (and release its audience)."""
        listeners, stream = self.presence_listeners or {}, listener.stream
        if not listener.rooms and listeners.get(stream) is listener:
            self.runtime.hub.remove_subscriber(listener)
            del listeners[stream]

    async def leave_presence(self, listener, pk, closing=False, removed=False):
        self.stop_listening(listener, pk)
        await self.runtime.presence.leave(
            self, listener.room_key(pk), closing=closing, removed=removed
        )

    async def revoke_presence(self, listener, pk):
        """Take the socket out of an object its user may no longer see."""
        joined = listener.rooms.get(pk)
        if joined is None or joined.joining:
            return  # Gone already, or the join takes it out when it ends.
        await self.leave_presence(listener, pk, removed=True)

    async def send_signal(self, listener, pk, frame):
        size = len(dumps(frame.payload).encode())
        if size > MAX_SIGNAL_BYTES:
            raise ProtocolError(
                413,
                f"The signal payload is {size} bytes as JSON: send at most "
                f"{MAX_SIGNAL_BYTES}.",
            )
        if self.signal_bucket is None:
            self.signal_bucket = SignalBucket(*conf.presence_signal_rate())
        wait = self.signal_bucket.take()
        if not wait and self.budget is not None:  # The user's, all sockets.
            wait = self.budget.signal_wait()
        if wait:
            data = {"detail": "Too many signals: slow down.", "wait": math.ceil(wait)}
            return response_frame(frame, 429, dumps(data))
        try:
            await self.runtime.presence.signal(
                self, listener.room_key(pk), listener.member, frame.payload
            )
        except Exception:
            logger.exception("Channel layer unreachable: signal not sent")
            raise ProtocolError(503, unavailable()) from None
        return response_frame(frame, 200, dumps({"detail": "sent"}))

    async def end_presence(self):
        """Leave every object on disconnect (its user stays for the grace period)."""
        for listener in list((self.presence_listeners or {}).values()):
            for pk in list(listener.rooms):
                try:
                    await self.leave_presence(listener, pk, closing=True)
                except Exception:
                    # The entry expires unrefreshed: the others hear of it then.
                    logger.warning("Presence not left on close", exc_info=True)
        self.presence_listeners = None


def unavailable():
    return (
        "Presence is unavailable: the server cannot reach its channel layer "
        "or Redis. Try again later."
    )
