"""What subscriptions, live queries and presence deliver: async iterators.

The client puts frames in (RealtimeClient reads the socket); you iterate:
a Subscription gives event frames, a LiveQuery keeps `items` in order and
gives Changes, a Presence keeps `members` and gives presence and signal
frames. A failure put in is raised by the iteration; END ends it.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from .frames import stable_json

logger = logging.getLogger(__name__)

# Put in a feed, ends its iteration (for every reader: it stays in the queue).
END = object()


@dataclass(frozen=True)
class Change:
    """One change of a live query's items.

    `action`: "enter", "update", "leave", or "reset" (a fresh snapshot after
    a reconnect). `item`: the object now (for "leave": as it was);
    `previous`: an updated object before; `index`: where `item` is now in
    `items`, the live query's list after the change.
    """

    action: str
    item: dict | None
    previous: dict | None
    index: int | None
    items: list


class _Feed:
    """An async iterator over what the client puts in; errors are raised."""

    def __init__(self):
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is END:
            self._queue.put_nowait(END)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def next(self, timeout=None):
        """Return the next item, waiting at most `timeout` seconds."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    def _put(self, item):
        self._queue.put_nowait(item)


class Subscription(_Feed):
    """The events of a subscribed stream: iterate for event frames (dicts).

    Event frames do not say which subscription they answer: every
    subscription of a stream sees every event of that stream on the socket.
    A "leave" event means the object is no longer visible to you (or no
    longer in the subscription): drop it from what you show.
    """

    def __init__(self, client, standing, on_reset):
        super().__init__()
        self._client = client
        self._standing = standing
        self.on_reset = on_reset
        self.response = None  # The first subscribe response frame.

    @property
    def stream(self):
        return self._standing.stream

    async def unsubscribe(self):
        """Stop receiving; the last subscription of a filter ends it on the server."""
        await self._client._drop(self._standing, self)


class LiveQuery(_Feed):
    """A `watch`: `items` is the list, kept in order; iterate for Changes."""

    def __init__(self, client, standing, compare):
        super().__init__()
        self._client = client
        self._standing = standing
        self.compare = compare
        self.items = []
        self.response = None  # The first watch response frame.
        self.id = None  # The server's id of the query on the current socket.

    async def unwatch(self):
        """End the live query."""
        await self._client._drop(self._standing, self)

    def _reset(self, frame, reconnect):
        data = frame.get("data")
        self.items[:] = (
            data if isinstance(data, list) else (data or {}).get("results", [])
        )
        if reconnect:
            self._put(Change("reset", None, None, None, self.items))

    def _apply(self, frame):
        """Apply a watch event to `items`, then report the change."""
        action, data = frame.get("action"), frame.get("data") or {}
        items = self.items
        at = next(
            (i for i, item in enumerate(items) if item.get("id") == data.get("id")),
            None,
        )
        if action == "leave":
            if at is not None:
                self._put(Change("leave", items.pop(at), None, None, items))
            return
        if action not in ("enter", "update"):
            return
        previous = items[at] if at is not None else None
        # A change committed just before the snapshot may come as an update
        # of what the snapshot holds already: nothing to report.
        if previous is not None and stable_json(previous) == stable_json(data):
            return
        if at is not None:
            del items[at]
        if self.compare is not None:
            index = next(
                (i for i, item in enumerate(items) if self.compare(data, item) < 0),
                len(items),
            )
        else:
            index = len(items) if at is None else at
        items.insert(index, data)
        action = "enter" if previous is None else "update"
        self._put(Change(action, data, previous, index, items))


class Presence(_Feed):
    """Who is present on one object: `members`, kept up to date.

    Iterate for its event frames: "presence" (`data`: who joined and who
    left) and "signal" (`data`: `from`, a member, and the `payload` another
    socket sent). `members` lists each user once, you included, ordered by
    name; `on_change(members)` is called after every change (and after the
    join is answered again on a new socket). When the object stops being
    visible to you, the server takes you out: `members` becomes [] and the
    iteration ends.
    """

    def __init__(self, client, standing, on_change):
        super().__init__()
        self._client = client
        self._standing = standing
        self.on_change = on_change
        self.members = []
        self.response = None  # The first join response frame.

    @property
    def stream(self):
        return self._standing.stream

    @property
    def lookup(self):
        return self._standing.lookup

    async def signal(self, payload, *, timeout=None):
        """Relay `payload` (a dict, at most 1 KiB as JSON) to the others present."""
        return await self._client.request(
            self.stream, "signal", self.lookup, payload, timeout=timeout
        )

    async def leave(self):
        """Stop being present (the last Presence of an object leaves it)."""
        await self._client._drop(self._standing, self)

    def _reset(self, members):
        self.members = list(members)
        self._changed()

    def _apply(self, frame):
        """Apply a presence event to `members`; hand the frame to the iteration."""
        if frame.get("action") == "presence":
            data = frame.get("data") or {}
            joined, left = data.get("joined", []), data.get("left", [])
            changed = {member.get("id") for member in [*joined, *left]}
            members = [m for m in self.members if m.get("id") not in changed]
            self.members = sorted([*members, *joined], key=member_order)
            self._changed()
        self._put(frame)

    def _changed(self):
        if self.on_change is not None:
            try:
                self.on_change(self.members)
            except Exception:
                logger.exception("on_change failed for %s %s", self.stream, self.lookup)


def member_order(member):
    """Members as the server lists them: by name (case-insensitive), then id."""
    return (str(member.get("name", "")).casefold(), str(member.get("id")))
