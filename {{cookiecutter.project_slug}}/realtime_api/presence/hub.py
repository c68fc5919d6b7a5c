"""Presence in one process: its rooms, what their sockets know, and the events.

The `PresenceHub` of a process (one per event loop, like the hub) keeps a
`Room` per object its sockets are present on. A room knows its sockets here,
the users whose entries this process keeps in the store
(realtime_api/presence/store.py), and its view: who is present anywhere, as
the sockets here were told. The view changes three ways:

- this process's joins and leaves, from the store's answer;
- other processes' events, through one channel-layer group per room, which
  the process joins while it serves sockets there;
- every heartbeat, a re-read of the room after refreshing this process's
  entries. It repairs what a lost event left wrong (Redis restarted, or was
  unreachable): a member missing from two re-reads in a row has left. Two,
  because after a Redis restart the other processes need up to a heartbeat
  to write their entries again.

A change is applied only when it is newer (its room version) than what the
view knows of that user, so events that cross each other settle right.

The changes of a room are sent in batches, BATCH_SECONDS apart at most: a
storm of 200 arrivals becomes a few frames per socket, not 200. Each socket
gets the net change since what it was last told (its join's answer, or the
last batch), so it never hears of its own join nor twice of anyone; sockets
told the same get one frame, built once. Signals use the same groups and
are never stored; a room's batch goes out before a signal, so a signal never
comes from someone the socket was not told of.
"""

import asyncio
import collections
import hashlib
import logging
import re
import time
import uuid
from typing import Any

from realtime_api import conf
from realtime_api.ops import metrics
from realtime_api.presence.store import presence_store_from_settings
from realtime_api.protocol import dumps, presence_event_frame

logger = logging.getLogger(__name__)

GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,99}$")
# How long the changes of a room gather before they are sent (seconds).
BATCH_SECONDS = 0.05


def presence_group(stream, pk):
    """The channel-layer group of the processes serving sockets on one object."""
    name = f"realtime-presence-{stream}-{pk}"
    if GROUP_NAME.match(name):
        return name
    digest = hashlib.sha256(f"{stream}:{pk}".encode()).hexdigest()[:32]
    return f"realtime-presence-{digest}"


def ordered(members):
    """Members as frames list them: by name, then id."""
    return sorted(
        members, key=lambda m: (str(m.get("name", "")).casefold(), str(m.get("id")))
    )


class LocalUser:
    """A user with sockets on a room in this process: their entry is ours to keep."""

    __slots__ = ("leaving", "member", "sockets")

    def __init__(self, member):
        self.member = member
        self.sockets = 0
        self.leaving = None  # The timer that ends their presence after a close.


class Room:
    """One object's presence in this process."""

    def __init__(self, stream, pk, lookup):
        self.stream = stream
        self.lookup = lookup  # What event frames name the object by.
        self.key = f"{stream}:{pk}"
        self.group = presence_group(stream, pk)
        self.sockets = {}  # socket -> user id
        self.told = {}  # socket -> how much of `changes` it knew when it joined
        self.changes = []  # (user id, member, now present): not sent yet
        self.sending = None  # The timer of the next batch.
        self.local = {}  # user id -> LocalUser
        self.members = {}  # user id -> member: who is present, as told here
        self.versions = {}  # user id -> the version of the last change applied
        self.base = None  # The version of the first read; None before it.
        # user id -> re-reads without them
        self.missing: collections.Counter[Any] = collections.Counter()
        self.early = []  # Events heard before the first read.
        self.lock = asyncio.Lock()  # One store call at a time per room.
        self.in_group = False

    def is_newer(self, user, version):
        return version > self.versions.get(user, self.base)

    def apply(self, version, joined, left):
        """Apply a change known at `version` to the view; note what it changed."""
        for user, member in joined.items():
            if self.is_newer(user, version):
                self.versions[user] = version
                self.missing.pop(user, None)
                if user not in self.members:
                    self.changes.append((user, member, True))
                self.members[user] = member
        for user in left:
            if self.is_newer(user, version):
                self.versions[user] = version
                if user in self.members:
                    self.changes.append((user, self.members.pop(user), False))

    def read(self, state, full=False):
        """Apply a read of the room (a RoomState with members).

        Every read adds who it finds and removes who left with it. A `full`
        read (a heartbeat's) also counts who it lacks: twice in a row is gone.
        """
        if self.base is None:  # The first read: the view is what it says.
            self.base = state.version
            self.members = dict(state.members)
            for event in self.early:
                self.apply(event["version"], event["joined"], event["left"])
            self.early = []
            return
        self.apply(state.version, state.members, state.gone)
        if full:
            lacking = {}
            for user, member in self.members.items():
                if user not in state.members and self.is_newer(user, state.version):
                    self.missing[user] += 1
                    if self.missing[user] >= 2:
                        lacking[user] = member
            self.apply(state.version, {}, lacking)
            for user in lacking:
                self.missing.pop(user, None)

    def add_socket(self, socket, user):
        """A socket that knows the view as it is now (its join's answer)."""
        self.sockets[socket] = user
        self.told[socket] = len(self.changes)

    def remove_socket(self, socket):
        self.told.pop(socket, None)
        return self.sockets.pop(socket, None)

    def batches(self):
        """Take the changes not sent yet: [(frame, sockets)], one per net change."""
        by_start = collections.defaultdict(list)
        for socket, start in self.told.items():
            if start < len(self.changes):
                by_start[start].append(socket)
        batches = []
        for start, sockets in sorted(by_start.items(), key=lambda item: item[0]):
            joined, left = self.net(self.changes[start:])
            if joined or left:
                batches.append((self.frame(joined, left), sockets))
        self.changes = []
        self.told = dict.fromkeys(self.told, 0)
        return batches

    def net(self, changes):
        """Who joined and who left over `changes` (one who came and went: neither)."""
        before: dict[Any, Any] = {}
        last: dict[Any, Any] = {}
        for user, member, present in changes:
            before.setdefault(user, not present)
            last[user] = member
        joined = [m for u, m in last.items() if u in self.members and not before[u]]
        left = [m for u, m in last.items() if u not in self.members and before[u]]
        return joined, left

    def frame(self, joined=(), left=()):
        data = {"joined": ordered(joined), "left": ordered(left)}
        return presence_event_frame(self.stream, "presence", self.lookup, dumps(data))

    def member_list(self):
        return ordered(self.members.values())


class PresenceHub:
    """This loop's rooms, their store and their events."""

    def __init__(self, runtime):
        self.layer = runtime.layer
        self.store = presence_store_from_settings()
        self.process = uuid.uuid4().hex[:16]  # Names this process's entries.
        self.rooms: dict[str, Room] = {}  # room key -> Room
        self.channel = None
        self.opening = asyncio.Lock()
        self.tasks = set()
        self.beating = None  # The heartbeat task, while there are rooms.
        # Frames to send, in the order the views changed: (frame, sockets).
        self.outbox: collections.deque[Any] = collections.deque()
        self.sending = False

    async def open(self):
        async with self.opening:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.spawn(self.receive())

    def spawn(self, coroutine):
        """Run `coroutine` as a task this hub holds until it is done."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- What sockets do -----------------------------------------------------

    async def join(self, socket, stream, pk, lookup, user, member):
        """Make `socket` present on the object; return who is present (a list)."""
        await self.open()
        key = f"{stream}:{pk}"
        while True:
            room = self.rooms.get(key)
            if room is None:
                room = self.rooms[key] = Room(stream, pk, lookup)
            async with room.lock:
                if self.rooms.get(key) is room:  # Not dropped while we waited.
                    return await self._join(room, socket, user, member)

    async def _join(self, room, socket, user, member):
        if socket in room.sockets:
            return room.member_list()
        local = room.local.get(user)
        state = None
        try:
            if not room.in_group:
                await self.layer.group_add(room.group, self.channel)
                room.in_group = True
            if local is None:
                # The first socket here reads who is present; later ones
                # keep the view that events and heartbeats keep up to date.
                read = room.base is None
                state = await self.store.join(
                    room.key, self.process, user, member, read=read
                )
        except BaseException:
            await self._drop_if_empty(room)
            raise
        if local is None:
            local = room.local[user] = LocalUser(member)
        elif local.leaving is not None:  # Back before the grace ended.
            local.leaving.cancel()
            local.leaving = None
        local.sockets += 1
        metrics.PRESENT_SOCKETS.labels(room.stream).inc()
        self._start_heartbeat()
        if state is not None:
            if state.members is None:  # The view here is kept: no read needed.
                room.apply(state.version, {user: member}, state.gone)
            else:
                room.read(state)
        room.add_socket(socket, user)  # It knows the view as it is now.
        self._schedule(room)
        if state is not None:
            joined = {user: member} if state.new else {}
            await self._publish(room, state.version, joined, state.gone)
        return room.member_list()

    async def leave(self, socket, room_key, closing=False, removed=False):
        """End `socket`'s presence on a room.

        `closing`: the socket closed, so its user stays present for the
        grace period (a reload reconnects within it). `removed`: the server
        took it out (the object is no longer visible to its user), so it is
        told that everyone left, itself included.
        """
        room = self.rooms.get(room_key)
        if room is None:
            return
        async with room.lock:
            if removed and socket in room.sockets:
                # Told everything first, then that everyone it knows left.
                self._flush(room)
                self._send(room.frame(left=room.members.values()), [socket])
            user = room.remove_socket(socket)
            if user is None:
                return
            metrics.PRESENT_SOCKETS.labels(room.stream).dec()
            local = room.local[user]
            local.sockets -= 1
            if local.sockets == 0:
                grace = conf.presence_grace_seconds() if closing else 0
                if grace > 0:
                    local.leaving = asyncio.get_running_loop().call_later(
                        grace, self.spawn_forget, room, user, local
                    )
                else:
                    await self._forget(room, user)
            await self._drop_if_empty(room)

    async def signal(self, socket, room_key, member, payload):
        """Relay `payload` from `socket` to every other socket present."""
        room = self.rooms.get(room_key)
        if room is None or socket not in room.sockets:
            return
        message = {
            "type": "realtime.presence",
            "kind": "signal",
            "room": room_key,
            "from": member,
            "payload": payload,
            "sender": socket.channel_name,
        }
        await self.layer.group_send(room.group, message)

    # --- Leaving ---------------------------------------------------------------

    def spawn_forget(self, room, user, local):
        self.spawn(self._forget_after_grace(room, user, local))

    async def _forget_after_grace(self, room, user, local):
        async with room.lock:
            if room.local.get(user) is local and local.sockets == 0:
                await self._forget(room, user)
                await self._drop_if_empty(room)

    async def _forget(self, room, user):
        """Remove this process's entry of `user`; announce them if it was the last."""
        del room.local[user]
        try:
            state = await self.store.leave(room.key, self.process, user)
        except Exception:
            # The entry expires unrefreshed; whoever sweeps it announces it.
            logger.warning("Presence entry not removed: %s", room.key, exc_info=True)
            return
        room.apply(state.version, {}, state.gone)
        self._schedule(room)
        await self._publish(room, state.version, {}, state.gone)

    async def _drop_if_empty(self, room: Room) -> None:
        """Forget a room with no socket and no entry here (under its lock)."""
        if room.sockets or room.local or self.rooms.get(room.key) is not room:
            return
        del self.rooms[room.key]
        if room.sending is not None:
            room.sending.cancel()
        if room.in_group:
            room.in_group = False
            try:
                await self.layer.group_discard(room.group, self.channel)
            except Exception:
                logger.warning("Presence group not left: %s", room.group)

    # --- Events ------------------------------------------------------------------

    async def _publish(self, room, version, joined, left):
        """Tell the other processes of a change (they apply it if it is news)."""
        if not joined and not left:
            return
        message = {
            "type": "realtime.presence",
            "kind": "change",
            "room": room.key,
            "version": version,
            "joined": joined,
            "left": left,
        }
        try:
            await self.layer.group_send(room.group, message)
        except Exception:
            # The other processes' next re-read of the room repairs their view.
            logger.warning("Presence change not sent: %s", room.key, exc_info=True)

    async def receive(self):
        while True:
            message = await self.layer.receive(self.channel)
            try:
                self.handle(message)
            except Exception:
                logger.exception("Not a presence message: %r", message)

    def handle(self, message):
        room = self.rooms.get(message.get("room"))
        if room is None:
            return
        if message["kind"] == "signal":
            data = dumps({"from": message["from"], "payload": message["payload"]})
            frame = presence_event_frame(room.stream, "signal", room.lookup, data)
            sender = message.get("sender")
            others = [s for s in room.sockets if s.channel_name != sender]
            self._flush(room)
            self._send(frame, others)
        elif message["kind"] == "change":
            if room.base is None:
                room.early.append(message)
                return
            room.apply(message["version"], message["joined"], message["left"])
            self._schedule(room)

    def _schedule(self, room):
        """Send the room's changes within BATCH_SECONDS (with the others then)."""
        if room.changes and room.sending is None:
            loop = asyncio.get_running_loop()
            room.sending = loop.call_later(BATCH_SECONDS, self._flush, room)

    def _flush(self, room):
        """Queue the room's changes for its sockets now."""
        if room.sending is not None:
            room.sending.cancel()
            room.sending = None
        for frame, sockets in room.batches():
            self._send(frame, sockets)

    def _send(self, frame, sockets):
        """Queue a frame for `sockets`: frames go out in the order queued."""
        if not sockets:
            return
        self.outbox.append((frame, sockets))
        if not self.sending:
            self.sending = True
            self.spawn(self._drain())

    async def _drain(self):
        try:
            while self.outbox:
                frame, sockets = self.outbox.popleft()
                for socket in sockets:
                    try:
                        await socket.deliver(frame)
                    except Exception:
                        logger.warning("Presence frame not sent", exc_info=True)
        finally:
            self.sending = False

    # --- The heartbeat -------------------------------------------------------------

    def _start_heartbeat(self):
        if self.beating is None or self.beating.done():
            self.beating = self.spawn(self._heartbeat())

    async def _heartbeat(self):
        """While there are rooms: refresh our entries, re-read every room."""
        spent = 0.0
        while True:
            await asyncio.sleep(max(0, conf.presence_heartbeat_seconds() - spent))
            if not self.rooms:
                return  # The next join starts another.
            started = time.monotonic()
            for room in list(self.rooms.values()):
                await self.refresh(room)
            spent = time.monotonic() - started

    async def refresh(self, room: Room) -> None:
        """Push back the expiry of our entries in `room`, and re-read it."""
        async with room.lock:
            if self.rooms.get(room.key) is not room or not room.local:
                return
            try:
                # Rejoin the group too: the core Redis layer forgets groups
                # when Redis restarts (the pub/sub layer resubscribes itself).
                await self.layer.group_add(room.group, self.channel)
                local = {user: entry.member for user, entry in room.local.items()}
                state = await self.store.refresh(room.key, self.process, local)
            except Exception:
                logger.warning("Presence not refreshed: %s", room.key, exc_info=True)
                return
            room.read(state, full=True)
            self._schedule(room)
            await self._publish(room, state.version, {}, state.gone)

    def members(self, room_key):
        room = self.rooms.get(room_key)
        return room.member_list() if room is not None else []
