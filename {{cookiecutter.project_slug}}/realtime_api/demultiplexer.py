"""APIDemultiplexer: the consumer that serves every registered stream."""

import asyncio
import logging
from functools import cached_property

from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured

from . import broadcast, conf, requests
from .protocol import (
    ACTIONS,
    ProtocolError,
    RequestFrame,
    error_frame,
    parse_request,
    response_frame,
)
from .sessions import GroupUserConsumer
from .subscriptions import SubscriptionMixin
from .watch import WatchMixin

logger = logging.getLogger(__name__)


class APIDemultiplexer(SubscriptionMixin, WatchMixin, GroupUserConsumer):
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

    # What to do right after sending the current response (replayed events):
    # a list once something needs it.
    after_response = ()
    held = None  # frames that arrive while a request is answered

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
        self.end_watches()
        await self.end_subscriptions()
        await super().disconnect(code)

    # Requests -----------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        # Events for this socket wait while it answers: the response comes
        # first, then replayed events, then what arrived meanwhile.
        self.held = []
        frame = RequestFrame()
        caused = []  # the events this request's writes publish
        token = broadcast.published.set(caused)
        try:
            reply = await self.handle(frame, text_data)
        except ProtocolError as exc:
            reply = error_frame(frame, exc.status, exc.detail)
        except Exception:
            logger.exception("Request failed: %s", frame)
            reply = error_frame(frame, 500, "Internal server error.")
        finally:
            broadcast.published.reset(token)
        await self.send(text_data=reply)
        for done in caused:  # Published before this socket's next frame.
            await asyncio.wrap_future(done)
        pending, self.after_response = self.after_response, ()
        for action in pending:
            await action()
        # Then what arrived meanwhile, in order, before anything newer.
        while self.held:
            event_id, text = self.held.pop(0)
            if event_id is None or self.remember(event_id):
                await self.send(text_data=text)
        self.held = None

    async def deliver(self, text):
        """Send a frame the server initiates (after the response being made)."""
        if self.held is not None:
            self.held.append((None, text))
        else:
            await self.send(text_data=text)

    def then(self, action):
        """Run the coroutine function `action` once the response is sent."""
        if not self.after_response:
            self.after_response = []
        self.after_response.append(action)

    async def handle(self, frame, text):
        """Answer one request frame; return the response frame."""
        if text is None:
            raise ProtocolError(
                400, "Binary frames are not supported: send JSON in a text frame."
            )
        limit = conf.max_frame_bytes()
        # UTF-8 takes at most 4 bytes a character: encode only when it matters.
        if len(text) > limit or (len(text) > limit // 4 and len(text.encode()) > limit):
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


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"
