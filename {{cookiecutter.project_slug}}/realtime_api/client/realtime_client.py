"""RealtimeClient: one socket to the realtime API, reconnected until close().

It runs the socket: reads it, reconnects with backoff, and on each new socket
sends every subscription, live query and presence again (subscriptions with
`since`) before letting requests through. What it keeps asking for is in
Standings (standing.py); the requests waiting for an answer are in
PendingRequests (frames.py).
"""

import asyncio
import contextlib
import functools
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

import websockets

from .backoff import STABLE_AFTER, Backoff
from .connection import open_socket
from .errors import HandshakeRefused, RealtimeError, RequestError
from .feeds import LiveQuery, Presence, Subscription
from .frames import PendingRequests, checked, request_frame
from .ordering import ordering_compare
from .refresh import CredentialRefresher
from .standing import Standings

logger = logging.getLogger(__name__)

STATES = ("connecting", "open", "reconnecting", "closed")


class RealtimeClient:
    """One socket to the realtime API, reconnected until `close()`.

    Options: `timeout` (seconds a request may take, waiting for a connection
    included), `reconnect` (False: stop at the first close), `min_delay` and
    `max_delay` (the backoff between attempts, doubling from one to the
    other, with jitter), `stable_after` (seconds a socket must stay open
    before the backoff starts again from `min_delay`; 0: on every open),
    `on_state_change(state, info)`, `on_reset(info)` (a
    subscription could not resume: read again), `trace(direction, text)`
    (every frame: "open", "send", "receive"), `refresh_credentials` (a function
    returning, or resolving with, a fresh Authorization header value: sent
    `refresh_before` seconds before the socket's credentials expire, see
    refresh.py); the rest go to open_socket().
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        reconnect: bool = True,
        min_delay: float = 0.5,
        max_delay: float = 10.0,
        stable_after: float = STABLE_AFTER,
        on_state_change: Callable[..., Any] | None = None,
        on_reset: Callable[..., Any] | None = None,
        trace: Callable[..., Any] | None = None,
        refresh_credentials: Callable[..., Any] | None = None,
        refresh_before: float = 30.0,
        **socket_options: Any,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.reconnect = reconnect
        self.backoff = Backoff(min_delay, max_delay, stable_after)
        self.on_state_change = on_state_change
        self.on_reset = on_reset
        self.trace = trace
        self.socket_options = socket_options
        self.state = "closed"
        self.close_code: int | None = None  # Of the last socket that closed.
        self._socket: Any = None
        self._connected = False
        self._generation = 0
        self._requests = PendingRequests()
        self._standings = Standings()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open: Any = None  # An asyncio.Event, set while requests may be sent.
        self._runner: asyncio.Task[Any] | None = None
        # Done when the client stops for good.
        self._finished: asyncio.Future[Any] | None = None
        # Why it stopped, for the calls still waiting.
        self._failure: Exception | None = None
        self._refresher = None  # Credentials that expire: refresh.py.
        if refresh_credentials is not None:
            self._refresher = CredentialRefresher(
                self, refresh_credentials, refresh_before
            )

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def connect(self):
        """Open the socket; raise HandshakeRefused, OSError or TimeoutError if not.

        The first socket is not retried: a HandshakeRefused that is
        `temporary` (429, 503) says when to try again (`retry_after`).
        """
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
        self,
        stream,
        action,
        lookup=None,
        payload=None,
        *,
        since=None,
        method=None,
        timeout=None,
    ):
        """Send a request frame; return its response frame (a dict).

        `action`: any action of the stream, a view's @action too ("close");
        `method`: one of that @action's HTTP methods (default: its first).

        Raises RequestError on an error status (with the status and body),
        on timeout, or when the socket closes before the answer (a request
        that was sent is never sent again: it may have been carried out).
        """
        frame = request_frame(stream, action, lookup, payload, since, method)
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
        if since is not None:
            self._standings.saw(stream, since)
        standing = self._standings.subscription(stream, filter)
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
        standing = self._standings.live_query(stream, params)
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
        standing = self._standings.presence(stream, lookup)
        others = [handle for handle in standing.handles if handle.members]
        here = Presence(self, standing, on_change)
        here.response = await self._join(standing, here, timeout)
        if others:  # Joined before: the others' members are up to date.
            here._reset(others[0].members)
        elif not here.members:
            here._reset(here.response["data"]["members"])
        return here

    # --- Standing requests: subscriptions, live queries, presence ------------

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
                self._standings.forget(standing)
            if isinstance(exc, TimeoutError):
                message = f"No answer to {standing.action} on {standing.stream}"
                raise RequestError(f"{message} within {timeout} s.") from None
            raise

    async def _drop(self, standing, handle):
        """Unsubscribe, unwatch or leave: `handle`'s feed ends at once."""
        ending = self._standings.drop(standing, handle)
        if ending is not None and self._open is not None and self._open.is_set():
            with contextlib.suppress(RealtimeError):
                await self.request(*ending)

    async def _send_standing(self, standing, seqs=None):
        """Send a subscribe or watch frame on the current socket.

        `seqs` are the seqs to resume from (by default the latest seen).
        """
        standing.generation = self._generation
        since = None
        if standing.action == "subscribe" and (standing.answered or standing.resume):
            since = (self._standings.seqs if seqs is None else seqs).get(
                standing.stream
            )
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
        reason = self._standings.answer(standing, since, frame)
        if reason is not None:
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
        options = self.socket_options
        if self._refresher is not None:
            options = await self._refresher.handshake_options(self.close_code)
        socket = await open_socket(self.url, **options)
        self._socket = socket
        self._generation += 1
        self._connected = True
        self.backoff.opened()
        if self.trace:
            self.trace("open", self.url)

    async def _run(self):
        """Serve sockets until the client stops: read, then reconnect."""
        try:
            while True:
                self._spawn(self._resume())
                if self._refresher is not None:
                    self._refresher.start(self._generation)
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
        seqs = dict(self._standings.seqs)
        while self._connected and self._generation == generation:
            unsent = self._standings.unsent(generation)
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
        if self._refresher is not None:
            self._refresher.stop()
        self._standings.socket_lost()
        self._requests.socket_closed(self.close_code)

    async def _reconnect(self):
        retry_after = None  # What the server asked of the last refused attempt.
        while self._failure is None:
            delay = self.backoff.next_delay(self.close_code, retry_after)
            self._set_state("reconnecting", code=self.close_code, delay=delay)
            await asyncio.sleep(delay)
            try:
                await self._connect_once()
                return
            except HandshakeRefused as refused:
                if not refused.temporary:
                    self._failure = refused  # The credentials no longer open one.
                    return
                logger.info("Reconnecting to %s: %s", self.url, refused)
                retry_after = refused.retry_after
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                logger.info("Reconnecting to %s failed: %s", self.url, exc)
                retry_after = None

    def _stop(self, failure):
        """Stop for good: every waiting call and feed gets `failure`."""
        if self._failure is None:
            self._failure = failure
        self._set_state("closed", code=self.close_code)
        if self._open is not None:
            self._open.set()  # Waiters wake up and see the failure.
        self._requests.fail(failure)
        self._standings.stop(failure)
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

    async def _reauthenticate(self, frame):
        """Send a reauthenticate frame (refresh.py); return its 200 response."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._wait_open()
                return checked(await self._exchange(frame))
        except TimeoutError:
            message = f"No answer to reauthenticate within {self.timeout} s."
            raise RequestError(message) from None

    async def _exchange(self, frame):
        answer = await self._send(frame)
        try:
            return await answer
        finally:
            self._requests.discard(frame["request_id"])

    async def _send(self, frame, on_answer=None):
        """Send a request frame; return the future of its response.

        With `on_answer`, that function is called with the response instead,
        as soon as it is read.
        """
        answer = self._requests.add(frame, on_answer)
        text = json.dumps(frame)
        try:
            await self._socket.send(text)
        except websockets.ConnectionClosed:
            self._requests.discard(frame["request_id"])
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
            self._requests.answer(frame)
        elif frame.get("type") == "event":
            self._standings.route(frame)

    def _spawn(self, coroutine):
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
