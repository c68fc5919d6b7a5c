"""A Python client of the realtime API (realtime_api/PROTOCOL.md), on asyncio.

    async with RealtimeClient("ws://127.0.0.1:8000/ws/", token=KEY) as client:
        created = await client.request("topics", "create", payload={"title": "Hi"})
        comments = await client.watch("comments", {"topic": created["data"]["id"]})
        print(comments.items)  # the list, kept up to date and in order
        async for change in comments:  # enter, update, leave; reset after a reconnect
            print(change.action, change.item)

    here = await client.presence("topics", 3)  # who else is on topic 3
    print(here.members)  # [{"id": 7, "name": "alice"}, ...], kept up to date
    await here.signal({"typing": True})  # to the others present, never stored

Authenticate with `token` (sends `Authorization: Token <key>`), `authorization`
(any header value, e.g. "Bearer <jwt>"), `cookie` (a browser session's
cookies) or `ticket` (a ticket from POST /api/realtime/ticket/, or a function
returning a fresh one for each connection). Without a header the client sends
an Origin: the server's own unless `origin` says otherwise.

After any close (4001 when the user's session or token changed, 4009 when it
read too slowly, a server restart) the client reconnects with exponential
backoff and jitter (5 s at least after 4008: it sent too fast), subscribes
again with `since` (the server replays what was missed) and reads each live
query afresh. A handshake refused with HTTP
403 (a revoked token) ends it: waiting calls raise HandshakeRefused.

On the command line (prints what changes, one JSON object a line):

    python -m realtime_api.client ws://127.0.0.1:8000/ws/ --token KEY \\
        comments watch '{"topic": 1}'

Needs the `websockets` package: pip install -e ".[client]". This file has no
other dependency: copy it into any Python 3.11+ program.
"""

import argparse
import asyncio
import contextlib
import functools
import inspect
import itertools
import json
import logging
import random
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

try:
    import websockets
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'realtime_api.client needs websockets: pip install -e ".[client]" '
        '(or pip install "websockets>=14").'
    ) from exc

logger = logging.getLogger(__name__)

STATES = ("connecting", "open", "reconnecting", "closed")
# A socket closed for flooding (PROTOCOL.md, 4008) comes back this much later.
FLOODING, FLOODING_DELAY = 4008, 5.0


class RealtimeError(Exception):
    """Anything the realtime API refused."""


class RequestError(RealtimeError):
    """A request answered with an error status, or not answered at all.

    `status` and `data` are the response's (the HTTP status and body the
    same request gets over HTTP); both are None when no answer came.
    """

    def __init__(self, message, frame=None):
        super().__init__(message)
        self.frame = frame
        self.status = frame.get("status") if frame else None
        self.data = frame.get("data") if frame else None


class HandshakeRefused(RealtimeError):
    """The server refused to open the socket (HTTP 403: wrong credentials)."""

    def __init__(self, status, body=b""):
        super().__init__(f"The server refused the WebSocket handshake: HTTP {status}.")
        self.status = status
        self.body = body


# --- Opening a socket ----------------------------------------------------------


async def open_socket(
    url,
    *,
    token=None,
    authorization=None,
    cookie=None,
    ticket=None,
    origin="auto",
    headers=None,
    open_timeout=10,
    **options,
):
    """Open one WebSocket, authenticated; return the `websockets` connection.

    `options` go to `websockets.connect` (e.g. `ping_interval=None`).
    Raises HandshakeRefused when the server answers the upgrade with an
    HTTP error.
    """
    request_headers = dict(headers or {})
    if token is not None:
        authorization = f"Token {token}"
    if authorization is not None:
        request_headers["Authorization"] = authorization
    if cookie:
        if isinstance(cookie, dict):
            cookie = "; ".join(f"{name}={value}" for name, value in cookie.items())
        request_headers["Cookie"] = cookie
    if ticket is not None:
        if callable(ticket):
            ticket = ticket()
            if inspect.isawaitable(ticket):
                ticket = await ticket
        url += ("&" if "?" in url else "?") + f"ticket={quote(ticket, safe='')}"
    if origin == "auto":
        # A header needs no Origin; a cookie or a ticket needs an allowed one.
        origin = None if authorization is not None else origin_of(url)
    options.setdefault("max_size", 2**24)
    try:
        return await websockets.connect(
            url,
            additional_headers=request_headers,
            origin=origin,
            open_timeout=open_timeout,
            **options,
        )
    except websockets.InvalidStatus as refused:
        response = refused.response
        raise HandshakeRefused(response.status_code, response.body) from None


def origin_of(url):
    """The Origin of a page served by the socket's own host."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme in ("wss", "https") else "http"
    return f"{scheme}://{parts.netloc}"


# --- What subscriptions and live queries deliver --------------------------------


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


_END = object()


class _Feed:
    """An async iterator over what the client puts in; errors are raised."""

    def __init__(self):
        self._queue = asyncio.Queue()

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
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


class _Standing:
    """A subscription, live query or presence: sent again on every new socket."""

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


# --- The client -----------------------------------------------------------------


class RealtimeClient:
    """One socket to the realtime API, reconnected until `close()`.

    Options: `timeout` (seconds a request may take, waiting for a connection
    included), `reconnect` (False: stop at the first close), `min_delay` and
    `max_delay` (the backoff between attempts, doubling from one to the
    other, with jitter), `on_state_change(state, info)`, `on_reset(info)` (a
    subscription could not resume: read again), `trace(direction, text)`
    (every frame: "open", "send", "receive"); the rest go to open_socket().
    """

    def __init__(
        self,
        url,
        *,
        timeout=10.0,
        reconnect=True,
        min_delay=0.5,
        max_delay=10.0,
        on_state_change=None,
        on_reset=None,
        trace=None,
        **socket_options,
    ):
        self.url = url
        self.timeout = timeout
        self.reconnect = reconnect
        self.min_delay, self.max_delay = min_delay, max_delay
        self.on_state_change = on_state_change
        self.on_reset = on_reset
        self.trace = trace
        self.socket_options = socket_options
        self.state = "closed"
        self.close_code = None  # Of the last socket that closed.
        self._socket = None
        self._connected = False
        self._generation = 0
        self._attempt = 0
        self._request_ids = itertools.count(1)
        self._pending = {}  # request_id -> future of its response frame
        self._standing = {}  # (stream, action, payload JSON) -> _Standing
        self._watch_ids = {}  # the server's watch id -> LiveQuery (this socket)
        self._seqs = {}  # stream -> the highest seq seen
        self._tasks = set()
        self._open = None  # Set while requests may be sent.
        self._runner = None
        self._finished = None  # Done when the client stops for good.
        self._failure = None  # Why it stopped, for the calls still waiting.

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def connect(self):
        """Open the socket; raise HandshakeRefused, OSError or TimeoutError if not."""
        if self._runner is not None:
            return self
        self._open = asyncio.Event()
        self._finished = asyncio.get_running_loop().create_future()
        self._failure = None
        await self._connect_once()
        self._runner = asyncio.create_task(self._run())
        return self

    async def close(self):
        """Close for good: no reconnect; waiting calls raise RequestError."""
        if self._runner is None:
            return
        self._stop(RequestError("The client is closed."))
        if self._socket is not None:
            await self._socket.close()
        if not self._connected:  # Waiting to reconnect: stop waiting.
            self._runner.cancel()
        await asyncio.gather(self._runner, return_exceptions=True)
        self._runner = None

    async def wait_closed(self, timeout=None):
        """Wait until the client stops for good; return the last close code."""
        if self._finished is None:
            return self.close_code
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._finished)
        return self.close_code

    # --- Requests ---------------------------------------------------------------

    async def request(
        self, stream, action, lookup=None, payload=None, *, since=None, timeout=None
    ):
        """Send a request frame; return its response frame (a dict).

        Raises RequestError on an error status (with the status and body),
        on timeout, or when the socket closes before the answer (a request
        that was sent is never sent again: it may have been carried out).
        """
        frame = request_frame(stream, action, lookup, payload, since)
        timeout = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._wait_open()
                reply = await self._exchange(frame)
        except TimeoutError:
            raise RequestError(
                f"No answer to {action} on {stream} within {timeout} s."
            ) from None
        return checked(reply)

    async def subscribe(
        self, stream, filter, *, since=None, on_reset=None, timeout=None
    ):
        """Subscribe to changes; return a Subscription (iterate for events).

        Raises RequestError when the server refuses the filter. After a
        reconnect the subscription is sent again with `since`, the last seq
        seen on the stream; when the server cannot replay what was missed,
        `on_reset({stream, filter, reason})` (or the client's) is called:
        read what you show again. `since` resumes from a seq kept from
        before (its `response["resumed"]` says whether that worked).
        """
        if since is not None and since > self._seqs.get(stream, -1):
            self._seqs[stream] = since
        standing = self._standing_for(stream, "subscribe", filter)
        standing.resume = standing.resume or since is not None
        handle = Subscription(self, standing, on_reset)
        handle.response = await self._join(standing, handle, timeout)
        return handle

    async def watch(self, stream, params=None, *, compare=None, timeout=None):
        """Start a live query (what `list` takes); return it with its first items.

        `items` is placed by the `ordering` param (ties by id, as the server
        breaks them) or, without one, in the snapshot's order with entries
        appended; `compare(a, b)` places them otherwise.
        """
        params = params or {}
        # Each live query has its own id on the server, even for equal params.
        standing = _Standing(stream, "watch", params)
        self._standing[(stream, "watch", id(standing))] = standing
        live = LiveQuery(
            self, standing, compare or ordering_compare(params.get("ordering"))
        )
        live.response = await self._join(standing, live, timeout)
        return live

    async def presence(self, stream, lookup, *, on_change=None, timeout=None):
        """Join an object's presence; return a Presence with its first members.

        Raises RequestError when the server refuses (the object's `retrieve`
        answer, 403 for an anonymous socket). After a reconnect the client
        joins again, and `members` is read afresh.
        """
        key = (stream, "join", str(lookup))
        standing = self._standing.get(key)
        if standing is None:
            standing = self._standing[key] = _Standing(stream, "join", {}, str(lookup))
        others = [handle for handle in standing.handles if handle.members]
        here = Presence(self, standing, on_change)
        here.response = await self._join(standing, here, timeout)
        if others:  # Joined before: the others' members are up to date.
            here._reset(others[0].members)
        elif not here.members:
            here._reset(here.response["data"]["members"])
        return here

    # --- Standing requests: subscriptions, live queries, presence ------------

    def _standing_for(self, stream, action, payload):
        key = (stream, action, stable_json(payload))
        standing = self._standing.get(key)
        if standing is None:
            standing = self._standing[key] = _Standing(stream, action, payload)
        return standing

    async def _join(self, standing, handle, timeout):
        standing.handles.add(handle)
        if standing.answered:
            return standing.first_answer.result()
        if (
            self._open is not None
            and self._open.is_set()
            and standing.generation is None
        ):
            await self._send_standing(standing)
        timeout = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._wait_open()
                return await asyncio.shield(standing.first_answer)
        except BaseException as exc:
            standing.handles.discard(handle)
            if not standing.handles and not standing.answered:
                self._forget(standing)
            if isinstance(exc, TimeoutError):
                message = f"No answer to {standing.action} on {standing.stream}"
                raise RequestError(f"{message} within {timeout} s.") from None
            raise

    async def _drop(self, standing, handle):
        standing.handles.discard(handle)
        handle._put(_END)
        if standing.handles or self._forget(standing) is None:
            return
        lookup = None
        if isinstance(handle, LiveQuery):
            if handle.id is None:
                return
            self._watch_ids.pop(handle.id, None)
            action, payload = "unwatch", {"watch": handle.id}
        elif isinstance(handle, Presence):
            action, payload, lookup = "leave", {}, standing.lookup
        else:
            action, payload = "unsubscribe", standing.payload
        if self._open is not None and self._open.is_set():
            with contextlib.suppress(RealtimeError):
                await self.request(standing.stream, action, lookup, payload=payload)

    def _forget(self, standing):
        for key, value in list(self._standing.items()):
            if value is standing:
                return self._standing.pop(key)
        return None

    async def _send_standing(self, standing, seqs=None):
        """Send a subscribe or watch frame on the current socket.

        `seqs` are the seqs to resume from (by default the latest seen).
        """
        standing.generation = self._generation
        since = None
        if standing.action == "subscribe" and (standing.answered or standing.resume):
            since = (self._seqs if seqs is None else seqs).get(standing.stream)
        frame = request_frame(
            standing.stream, standing.action, standing.lookup, standing.payload, since
        )
        try:
            # Answered at once, in the reading task: a watch's events, which
            # follow its response, find its id and items in place.
            await self._send(frame, functools.partial(self._answered, standing, since))
        except RequestError:
            standing.generation = None  # The socket closed: sent on the next one.

    def _answered(self, standing, since, frame):
        try:
            frame = checked(frame)
        except RequestError as error:
            self._forget(standing)
            if not standing.answered:
                standing.first_answer.set_exception(error)
            for handle in standing.handles:
                handle._put(error)
            return
        resuming, standing.answered = standing.answered, True
        if not standing.first_answer.done():
            standing.first_answer.set_result(frame)
        if standing.action == "watch":
            for live in standing.handles:
                live.id = frame.get("watch")
                self._watch_ids[live.id] = live
                live._reset(frame, reconnect=resuming)
        elif standing.action == "join":
            for here in standing.handles:
                here._reset(frame["data"]["members"])
        elif resuming and frame.get("resumed") is not True:
            reason = frame.get("reason") or (
                "no seq" if since is None else "not resumed"
            )
            # A "too old" seq may come from before a server restart: forget it.
            if since is not None and self._seqs.get(standing.stream) == since:
                del self._seqs[standing.stream]
            self._reset_subscription(standing, reason)

    def _reset_subscription(self, standing, reason):
        info = {"stream": standing.stream, "filter": standing.payload, "reason": reason}
        callbacks = {h.on_reset for h in standing.handles if h.on_reset} or {
            self.on_reset
        }
        for callback in callbacks:
            if callback is None:
                logger.warning("Events may have been missed: %s", info)
                continue
            try:
                result = callback(info)
                if inspect.isawaitable(result):
                    self._spawn(result)
            except Exception:
                logger.exception("on_reset failed for %s", info)

    # --- The connection --------------------------------------------------------

    async def _connect_once(self):
        self._set_state("connecting")
        socket = await open_socket(self.url, **self.socket_options)
        self._socket = socket
        self._generation += 1
        self._connected = True
        self._attempt = 0
        if self.trace:
            self.trace("open", self.url)

    async def _run(self):
        """Serve sockets until the client stops: read, then reconnect."""
        try:
            while True:
                self._spawn(self._resume())
                await self._read(self._socket)
                self._lost()
                if self._failure is not None or not self.reconnect:
                    break
                await self._reconnect()
                if self._failure is not None:
                    break
        finally:
            self._stop(self._failure or RequestError("The connection closed."))

    async def _resume(self):
        """Send every subscription and live query, then let requests through."""
        generation = self._generation
        # Every subscription of a stream resumes from what was seen before the
        # reconnect: the replay of the first, read while the next is sent,
        # must not move the next one's since past what it missed.
        seqs = dict(self._seqs)
        while self._connected and self._generation == generation:
            unsent = [s for s in self._standing.values() if s.generation != generation]
            if not unsent:
                self._open.set()
                self._set_state("open")
                return
            for standing in unsent:
                await self._send_standing(standing, seqs)

    async def _read(self, socket):
        try:
            async for text in socket:
                self._received(text)
        except websockets.ConnectionClosed:
            pass
        self.close_code = socket.close_code

    def _lost(self):
        """The socket closed: fail what was sent, forget this socket's watch ids."""
        self._connected = False
        self._open.clear()
        self._watch_ids.clear()
        for live in self._live_queries():
            live.id = None
        pending, self._pending = self._pending, {}
        for answer in pending.values():
            # A subscription or live query (a function) is sent again on the
            # next socket; a request is not: it may have been carried out.
            if isinstance(answer, asyncio.Future) and not answer.done():
                message = f"The connection closed (code {self.close_code}) first."
                answer.set_exception(RequestError(message))

    async def _reconnect(self):
        while self._failure is None:
            ceiling = min(self.max_delay, self.min_delay * 2**self._attempt)
            delay = ceiling / 2 + random.random() * ceiling / 2
            if self.close_code == FLOODING:
                delay = max(delay, FLOODING_DELAY)
            self._attempt += 1
            self._set_state("reconnecting", code=self.close_code, delay=delay)
            await asyncio.sleep(delay)
            try:
                await self._connect_once()
                return
            except HandshakeRefused as refused:
                self._failure = refused  # The credentials no longer open a socket.
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                logger.info("Reconnecting to %s failed: %s", self.url, exc)

    def _stop(self, failure):
        """Stop for good: every waiting call and feed gets `failure`."""
        if self._failure is None:
            self._failure = failure
        self._set_state("closed", code=self.close_code)
        if self._open is not None:
            self._open.set()  # Waiters wake up and see the failure.
        for answer in self._pending.values():
            if isinstance(answer, asyncio.Future) and not answer.done():
                answer.set_exception(failure)
        for standing in self._standing.values():
            if not standing.first_answer.done():
                standing.first_answer.set_exception(failure)
            for handle in standing.handles:
                handle._put(failure if isinstance(failure, HandshakeRefused) else _END)
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(self.close_code)

    def _set_state(self, state, **info):
        self.state = state
        if self.on_state_change is not None:
            self.on_state_change(state, {"code": None, "delay": 0, **info})

    async def _wait_open(self):
        if self._open is None:
            raise RequestError("Not connected: call connect() first.")
        await self._open.wait()
        if self._failure is not None:
            raise self._failure

    # --- Frames ----------------------------------------------------------------

    async def _exchange(self, frame):
        answer = await self._send(frame)
        try:
            return await answer
        finally:
            self._pending.pop(frame["request_id"], None)

    async def _send(self, frame, on_answer=None):
        """Send a request frame; return the future of its response.

        With `on_answer`, that function is called with the response instead,
        as soon as it is read.
        """
        request_id = frame["request_id"] = f"p{next(self._request_ids)}"
        answer = on_answer or asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        text = json.dumps(frame)
        try:
            await self._socket.send(text)
        except websockets.ConnectionClosed:
            self._pending.pop(request_id, None)
            message = "The connection closed before the request was sent."
            raise RequestError(message) from None
        if self.trace:
            self.trace("send", text)
        return answer

    def _received(self, text):
        if self.trace:
            self.trace("receive", text)
        frame = json.loads(text)
        if frame.get("type") == "response":
            answer = self._pending.pop(frame.get("request_id"), None)
            if isinstance(answer, asyncio.Future):
                if not answer.done():
                    answer.set_result(frame)
            elif answer is not None:
                answer(frame)
        elif frame.get("type") == "event":
            self._dispatch_event(frame)

    def _dispatch_event(self, frame):
        stream, seq = frame.get("stream"), frame.get("seq")
        if isinstance(seq, int) and seq > self._seqs.get(stream, -1):
            self._seqs[stream] = seq
        if frame.get("action") in ("presence", "signal"):
            key = (stream, "join", frame.get("lookup"))
            standing = self._standing.get(key)
            if standing is None or not standing.answered:
                return
            for here in standing.handles:
                here._apply(frame)
            if not any(here.members for here in standing.handles):
                # Taken out: the object is no longer visible to this user.
                self._forget(standing)
                for here in standing.handles:
                    here._put(_END)
            return
        if "watch" in frame:
            live = self._watch_ids.get(frame["watch"])
            if live is not None and live._standing.stream == stream:
                live._apply(frame)
            return
        for standing in list(self._standing.values()):
            if standing.action == "subscribe" and standing.stream == stream:
                for handle in standing.handles:
                    handle._put(frame)

    def _live_queries(self):
        for standing in self._standing.values():
            if standing.action == "watch":
                yield from standing.handles

    def _spawn(self, coroutine):
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def request_frame(stream, action, lookup=None, payload=None, since=None):
    """A request frame: the path form, or the structured one for odd lookups."""
    frame = {"payload": payload or {}}
    if lookup is None:
        frame["stream"] = f"{stream}/{action}/"
    elif "/" not in str(lookup):
        frame["stream"] = f"{stream}/{action}/{lookup}/"
    else:
        frame.update(stream=stream, action=action, lookup=str(lookup))
    if since is not None:
        frame["since"] = since
    return frame


def checked(frame):
    """Return a success response frame; raise RequestError for an error one."""
    status = frame.get("status")
    if isinstance(status, int) and status >= 400:
        data = frame.get("data")
        detail = (
            f": {data['detail']}" if isinstance(data, dict) and "detail" in data else ""
        )
        where = f"{frame.get('stream')}/{frame.get('action')}"
        raise RequestError(f"{where} answered {status}{detail}", frame)
    return frame


def stable_json(value):
    """JSON with sorted keys: the same filter in another key order is the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# --- Ordering a live query's items ----------------------------------------------

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def ordering_compare(ordering):
    """A compare(a, b) from an `ordering` param ("-created,title"), or None.

    Ties by id (ascending, unless the ordering names id or pk), as the
    server breaks them; fields missing from the objects compare equal.
    """
    if isinstance(ordering, list | tuple):
        ordering = ",".join(ordering)
    if not isinstance(ordering, str) or not ordering.strip():
        return None
    fields = []
    for field in filter(None, (part.strip() for part in ordering.split(","))):
        name = field.lstrip("-+")
        fields.append(("id" if name == "pk" else name, -1 if field[0] == "-" else 1))
    if not any(name == "id" for name, _ in fields):
        fields.append(("id", 1))

    def compare(a, b):
        for name, direction in fields:
            order = compare_values(a.get(name), b.get(name))
            if order:
                return order * direction
        return 0

    return compare


def compare_values(a, b):
    """Nulls first; date-times as times; numbers, booleans and strings by value."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    if isinstance(a, str) and isinstance(b, str):
        a_time, b_time = datetime_key(a), datetime_key(b)
        if a_time is not None and b_time is not None:
            a, b = a_time, b_time
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        a, b = stable_json(a), stable_json(b)
    try:
        return (a > b) - (a < b)
    except TypeError:
        return (str(a) > str(b)) - (str(a) < str(b))


@functools.lru_cache(maxsize=4096)
def datetime_key(value):
    """The time of an ISO 8601 date-time (naive ones read as UTC), or None."""
    if not ISO_DATETIME.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# --- Command line ------------------------------------------------------------------


def main(argv=None):
    """python -m realtime_api.client URL STREAM ACTION [PAYLOAD]: see --help."""
    parser = argparse.ArgumentParser(
        prog="python -m realtime_api.client",
        description="Send one request to the realtime API and print its answer; "
        "`subscribe` and `watch` then print every change, one JSON a line, "
        "until interrupted (reconnecting as needed).",
    )
    parser.add_argument("url", help="the socket, e.g. ws://127.0.0.1:8000/ws/")
    parser.add_argument("stream", help="e.g. comments")
    parser.add_argument(
        "action",
        help="list, retrieve, create, update, delete, options, subscribe or watch",
    )
    parser.add_argument(
        "payload",
        nargs="?",
        default="{}",
        help="the payload, a JSON object (default {})",
    )
    parser.add_argument(
        "--lookup", help="the object's lookup (retrieve, update, delete)"
    )
    credentials = parser.add_mutually_exclusive_group()
    credentials.add_argument("--token", help="an API token: Authorization: Token ...")
    credentials.add_argument(
        "--authorization", help='a whole header, e.g. "Bearer ..."'
    )
    credentials.add_argument("--cookie", help='browser cookies, e.g. "sessionid=..."')
    credentials.add_argument(
        "--ticket", help="a ticket from POST /api/realtime/ticket/"
    )
    parser.add_argument(
        "--origin",
        default="auto",
        help="the Origin to send (default: the server's own, "
        "unless a header authenticates)",
    )
    args = parser.parse_args(argv)
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        parser.error(f"PAYLOAD is not JSON: {exc}")
    if not isinstance(payload, dict):
        parser.error("PAYLOAD must be a JSON object, e.g. '{\"topic\": 1}'")
    try:
        return asyncio.run(run_command(args, payload))
    except KeyboardInterrupt:
        return 130


async def run_command(args, payload):
    def say(state, info):
        if state == "reconnecting":
            print(
                f"closed ({info['code']}), reconnecting in {info['delay']:.1f} s",
                file=sys.stderr,
            )

    client = RealtimeClient(
        args.url,
        token=args.token,
        authorization=args.authorization,
        cookie=args.cookie,
        ticket=args.ticket,
        origin=None if args.origin == "none" else args.origin,
        on_state_change=say,
        on_reset=lambda info: print_line({"action": "reset", **info}),
    )
    try:
        async with client:
            if args.action == "watch":
                live = await client.watch(args.stream, payload)
                print_line({"action": "snapshot", "items": live.items})
                async for change in live:
                    print_line(change_line(change))
            elif args.action == "subscribe":
                subscription = await client.subscribe(args.stream, payload)
                print_line(subscription.response["data"])
                async for event in subscription:
                    print_line(event)
            else:
                response = await client.request(
                    args.stream, args.action, args.lookup, payload
                )
                print(json.dumps(response["data"], indent=2, ensure_ascii=False))
    except (RealtimeError, OSError, TimeoutError) as exc:
        body = getattr(exc, "data", None)
        print(f"{exc}" + (f"\n{json.dumps(body)}" if body else ""), file=sys.stderr)
        return 1
    return 0


def change_line(change):
    if change.action == "reset":
        return {"action": "reset", "items": change.items}
    line = {"action": change.action, "data": change.item}
    if change.index is not None:
        line["index"] = change.index
    return line


def print_line(data):
    print(json.dumps(data, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
