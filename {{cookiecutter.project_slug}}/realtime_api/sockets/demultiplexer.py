"""APIDemultiplexer: the Channels consumer of one socket, serving every stream.

It reads request frames, hands each to its stream's endpoint, and writes the
response; the hub hands it the events of its subscriptions and live queries,
which wait while a request is being answered so that a response always
comes before the events it caused. Its parts are mixed in: each says what it
needs of the consumer and provides, in the terms of contract.py.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

from realtime_api import conf
from realtime_api.auth.reauthenticate import ReauthenticateMixin
from realtime_api.auth.revocation import GroupUserConsumer
from realtime_api.limits.overload import OverloadMixin
from realtime_api.ops import metrics
from realtime_api.presence.requests import PresenceMixin
from realtime_api.protocol import (
    REAUTHENTICATE,
    ProtocolError,
    RequestFrame,
    check_size,
    error_frame,
    parse_request,
    response_frame,
)
from realtime_api.sockets.subscriptions import SubscriptionMixin
from realtime_api.sockets.watch import WatchMixin
from realtime_api.streams import request_factory
from realtime_api.streams.registry import Registry, get_registry

logger = logging.getLogger(__name__)


class APIDemultiplexer(
    OverloadMixin,
    SubscriptionMixin,
    WatchMixin,
    PresenceMixin,
    ReauthenticateMixin,
    GroupUserConsumer,
):
    """One socket, many streams: routes each request frame to its endpoint.

    Serves the streams of `registry` (the project's, REALTIME_API_REGISTRY,
    unless `as_asgi(registry=...)` gives another).
    """

    registry: Registry  # Set by __init__.
    bound_stream = None  # The stream of a socket bound to one (its URL's).

    def __init__(self, *args, registry=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = registry or get_registry()

    # What to do right after sending the current response (replayed events):
    # a list once something needs it.
    after_response: list[Callable[[], Awaitable[Any]]] | tuple[()] = ()
    # Frames that arrive while a request is answered: (text, key).
    held: list[tuple[str, Any]] | None = None
    opened = False  # counted among the open sockets

    @cached_property
    def http_scope(self):
        return request_factory.http_scope(self.scope)

    def scope_changed(self):
        """The scope's headers changed (reauthenticate): rebuild `http_scope`."""
        self.__dict__.pop("http_scope", None)

    async def connect(self):
        self.runtime = self.registry.runtime()
        route_kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        self.bound_stream = route_kwargs.get("stream")
        if self.bound_stream is not None and self.bound_stream not in self.registry:
            await self.close()  # Refuses the handshake: HTTP 403.
            return
        await super().connect()
        if self.budget is not None:  # Else refused over its budget (429).
            self.opened = metrics.socket_opened()

    async def disconnect(self, code):
        await self.stop_frames()
        metrics.socket_closed(code, self.opened)
        if hasattr(self, "runtime"):
            self.end_watches()
            self.end_subscriptions()
            await self.end_presence()
        await super().disconnect(code)

    # --- Requests ------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        # Events for this socket wait while it answers: the response comes
        # first, then replayed events, then what arrived meanwhile.
        self.held = []
        frame, started = RequestFrame(), time.perf_counter()
        publisher = self.runtime.publisher
        with publisher.collecting() as committed:
            try:
                reply = await self.handle(frame, text_data)
            except ProtocolError as exc:
                reply = error_frame(frame, exc.status, exc.detail)
            except Exception:
                logger.exception("Request failed: %s", frame)
                reply = error_frame(frame, 500, "Internal server error.")
            finally:
                # Also when cancelled: what committed is published.
                published = publisher.publish_soon(committed)
        await self.send(text_data=reply)
        metrics.frame_answered(self.registry, frame, started)
        if published is not None:  # Published before this socket's next frame.
            # Shielded: a socket closed meanwhile cancels this wait, not the
            # publishing of what its request committed.
            await asyncio.shield(published)
        pending, self.after_response = self.after_response, ()
        for action in pending:
            await action()
        # Then what arrived meanwhile, in order, before anything newer.
        while self.held:
            text, key = self.held.pop(0)
            self.release_bytes(len(text))
            if self.remember(key):
                await self.send(text_data=text)
        self.held = None

    async def handle(self, frame, text):
        """Answer one request frame; return the response frame."""
        if text is None:
            raise ProtocolError(
                400, "Binary frames are not supported: send JSON in a text frame."
            )
        check_size(text, conf.max_frame_bytes())
        parse_request(text, frame, self.bound_stream)
        if frame.stream == REAUTHENTICATE:
            return await self.handle_reauthenticate(frame)
        adapter = self.get_adapter(frame)
        endpoint = adapter.endpoint_class(adapter, self.scope, self.http_scope)
        # The stream's action table says who answers: the view (REST and
        # extra actions) or the socket's own state.
        kind = adapter.actions[frame.action].kind
        if kind == "subscription":
            return await self.handle_subscription(endpoint, frame)
        if kind == "live":
            return await self.handle_watch(endpoint, frame)
        if kind == "presence":
            return await self.handle_presence(endpoint, frame)
        status, data_json = await self.runtime.view_threads.run(
            endpoint.dispatch,
            frame.action,
            frame.lookup,
            frame.payload,
            frame.method,
            key=self.flood_identity(),  # Turns round the users.
        )
        return response_frame(frame, status, data_json)

    def get_adapter(self, frame):
        """Return the frame's stream's adapter, if its endpoint may do the action."""
        if self.bound_stream is not None and frame.stream != self.bound_stream:
            raise ProtocolError(
                404,
                f"Unknown stream '{frame.stream}': this socket serves "
                f"'{self.bound_stream}' only.",
            )
        adapter = self.registry.get(frame.stream)
        if adapter is None:
            raise ProtocolError(
                404,
                f"Unknown stream '{frame.stream}'. "
                f"Streams: {', '.join(self.registry.names()) or 'none'}.",
            )
        adapter.check_action(frame.action, frame.method)
        return adapter

    # --- Frames the server initiates -----------------------------------------

    async def deliver(self, text, key=None):
        """Send an event frame (after the response being made, if any).

        `key` names the event for duplicate checks: a replay and the live
        feed may both carry it.
        """
        if self.held is not None:
            if self.hold_bytes(len(text)):  # Else: closed as a slow consumer.
                self.held.append((text, key))
        elif self.remember(key):
            await self.send(text_data=text)

    def then(self, action):
        """Run the coroutine function `action` once the response is sent."""
        if not self.after_response:
            self.after_response = []
        self.after_response.append(action)
