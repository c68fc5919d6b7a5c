"""What a client keeps asking for: its subscriptions, live queries and presence.

Each is a Standing request, sent on the socket it was made on and again on
every new one (a subscription with `since`, the last seq seen on its
stream, for the server to replay what was missed). Standings holds them,
the seqs seen and the live queries' ids on the current socket; it applies
their responses and routes each event to the feeds it concerns. It sends
nothing: RealtimeClient does.
"""

import asyncio

from .errors import HandshakeRefused, RequestError
from .feeds import END, LiveQuery, Presence
from .frames import checked, stable_json


class Standing:
    """A subscription, live query or presence: sent again on every new socket.

    `handles` are the feeds given out for it (Subscription, LiveQuery or
    Presence): equal subscriptions, or presences on one object, share it.
    """

    def __init__(self, stream, action, payload, lookup=None):
        self.stream = stream
        self.action = action
        self.payload = payload
        self.lookup = lookup
        self.handles = set()
        self.generation = None  # The socket it was last sent on.
        self.answered = False
        self.resume = False  # Send `since` the first time too.
        self.first_answer = asyncio.get_running_loop().create_future()
        # A refusal nobody waits for any more is not an unretrieved error.
        self.first_answer.add_done_callback(lambda f: f.cancelled() or f.exception())


class Standings:
    """A client's Standing requests, the seqs it saw, its live queries' ids."""

    def __init__(self):
        self._by_key = {}  # (stream, action, filter JSON | lookup | id) -> Standing
        self.seqs = {}  # stream -> the highest seq seen
        self.watch_ids = {}  # the server's watch id -> LiveQuery (this socket)

    def __iter__(self):
        # A copy: what goes through them may forget one meanwhile.
        return iter(list(self._by_key.values()))

    def subscription(self, stream, filter):
        """The Standing of a subscription: one for equal filters."""
        key = (stream, "subscribe", stable_json(filter))
        standing = self._by_key.get(key)
        if standing is None:
            standing = self._by_key[key] = Standing(stream, "subscribe", filter)
        return standing

    def live_query(self, stream, params):
        """A new Standing: each live query has its own id on the server."""
        standing = Standing(stream, "watch", params)
        self._by_key[(stream, "watch", id(standing))] = standing
        return standing

    def presence(self, stream, lookup):
        """The Standing of the presence on an object: one for each object."""
        key = (stream, "join", str(lookup))
        standing = self._by_key.get(key)
        if standing is None:
            standing = self._by_key[key] = Standing(stream, "join", {}, str(lookup))
        return standing

    def forget(self, standing):
        """Stop sending `standing`; return it, or None if it was gone already."""
        for key, value in list(self._by_key.items()):
            if value is standing:
                return self._by_key.pop(key)
        return None

    def unsent(self, generation):
        """The Standings not sent yet on the socket `generation`."""
        return [s for s in self._by_key.values() if s.generation != generation]

    def saw(self, stream, seq):
        """Keep `seq` if it is the highest seen on `stream`."""
        if seq > self.seqs.get(stream, -1):
            self.seqs[stream] = seq

    def drop(self, standing, handle):
        """End `handle`'s feed; return the request that ends `standing`, if any.

        The request, (stream, action, lookup, payload), comes when `handle`
        was the last of `standing` and the server holds it.
        """
        standing.handles.discard(handle)
        handle._put(END)
        if standing.handles or self.forget(standing) is None:
            return None
        if isinstance(handle, LiveQuery):
            if handle.id is None:
                return None
            self.watch_ids.pop(handle.id, None)
            return (standing.stream, "unwatch", None, {"watch": handle.id})
        if isinstance(handle, Presence):
            return (standing.stream, "leave", standing.lookup, {})
        return (standing.stream, "unsubscribe", None, standing.payload)

    def answer(self, standing, since, frame):
        """Apply the response to `standing` sent with `since` to its feeds.

        Return why events may have been missed (a subscription that did not
        resume), else None.
        """
        try:
            frame = checked(frame)
        except RequestError as error:
            self.forget(standing)
            if not standing.answered:
                standing.first_answer.set_exception(error)
            for handle in standing.handles:
                handle._put(error)
            return None
        resuming, standing.answered = standing.answered, True
        if not standing.first_answer.done():
            standing.first_answer.set_result(frame)
        if standing.action == "watch":
            for live in standing.handles:
                live.id = frame.get("watch")
                self.watch_ids[live.id] = live
                live._reset(frame, reconnect=resuming)
        elif standing.action == "join":
            for here in standing.handles:
                here._reset(frame["data"]["members"])
        elif resuming and frame.get("resumed") is not True:
            reason = frame.get("reason") or (
                "no seq" if since is None else "not resumed"
            )
            # A "too old" seq may come from before a server restart: forget it.
            if since is not None and self.seqs.get(standing.stream) == since:
                del self.seqs[standing.stream]
            return reason
        return None

    def route(self, frame):
        """Hand an event frame to the feeds it concerns; note its seq."""
        stream, seq = frame.get("stream"), frame.get("seq")
        if isinstance(seq, int):
            self.saw(stream, seq)
        if frame.get("action") in ("presence", "signal"):
            standing = self._by_key.get((stream, "join", frame.get("lookup")))
            if standing is None or not standing.answered:
                return
            for here in standing.handles:
                here._apply(frame)
            if not any(here.members for here in standing.handles):
                # Taken out: the object is no longer visible to this user.
                self.forget(standing)
                for here in standing.handles:
                    here._put(END)
            return
        if "watch" in frame:
            live = self.watch_ids.get(frame["watch"])
            if live is not None and live._standing.stream == stream:
                live._apply(frame)
            return
        for standing in self:
            if standing.action == "subscribe" and standing.stream == stream:
                for handle in standing.handles:
                    handle._put(frame)

    def socket_lost(self):
        """Forget the live queries' ids: they were the closed socket's."""
        self.watch_ids.clear()
        for standing in self:
            if standing.action == "watch":
                for live in standing.handles:
                    live.id = None

    def stop(self, failure):
        """The client stopped: first answers raise `failure`, feeds end.

        A refused handshake is raised in the feeds too: their readers learn
        that the credentials no longer open a socket.
        """
        for standing in self:
            if not standing.first_answer.done():
                standing.first_answer.set_exception(failure)
            for handle in standing.handles:
                handle._put(failure if isinstance(failure, HandshakeRefused) else END)
