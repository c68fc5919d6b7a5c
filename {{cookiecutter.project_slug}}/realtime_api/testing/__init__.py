"""Test helpers: a communicator with a logged-in user, `create_user`, and
helpers for the frames of subscriptions and live queries.

Usage, in an async test::

    async with AuthWebsocketCommunicator(application, "/ws/", user=user) as ws:
        await subscribe(ws, "comments", {"topic": 3})
        response = expect_ok(await ws.request("comments", "create", payload={...}))
        event = await ws.receive_event()

The package also holds `pytest_plugin` (fixtures: `user`, `admin`, live
servers), `live_server` (real daphne and uvicorn processes for live tests)
and `frame_check` (frames checked against the AsyncAPI document). A project's
tests import from here and from `realtime_api.api`.

Imports: `client` and `schema` (the live servers' clients and the
AsyncAPI document the frames are checked against).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, cast

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

    from realtime_api.testing.frame_check import FrameRecorder, Transcript

# A frame, as json.loads() reads it.
Frame = dict[str, Any]

# The default Origin: the page's own, http:// and the handshake's Host (what
# Django's CSRF check accepts; realtime_api/auth/origins.py).
DEFAULT_ORIGIN = "same-origin"

# Where the test helpers write the frames of each socket, so that the pytest
# plugin can check them against the AsyncAPI document at the end of the run
# (realtime_api/testing/frame_check.py). None: not recorded.
recorder: FrameRecorder | None = None


def new_transcript() -> Transcript | None:
    """A transcript for one more client, or None when nothing is recorded."""
    return recorder.transcript() if recorder is not None else None


class FrameClient:
    """Request and event helpers over any transport (PROTOCOL.md frames).

    A subclass gives `send_text(text)` and `receive_text(timeout)`.
    """

    timeout: float = 2  # seconds to wait for a frame

    if TYPE_CHECKING:  # What a subclass gives.

        async def send_text(self, text: str) -> None: ...

        async def receive_text(self, timeout: float) -> str: ...

    def start_frames(self) -> None:
        """Call from __init__: no events kept yet, request ids from 1."""
        # Event frames received while awaiting a response.
        self.events: list[Frame] = []
        self._request_ids = itertools.count(1)

    async def request(
        self,
        stream: str,
        action: str,
        lookup: object = None,
        payload: Any = None,
        **extra: Any,
    ) -> Frame:
        """Send a request frame and return its response frame (as a dict).

        `extra` goes into the frame next to `payload` (e.g. `since=42`;
        None leaves a key out); event frames that arrive first are kept for
        `receive_event()`.
        """
        timeout = extra.pop("timeout", self.timeout)
        request_id = extra.pop("request_id", f"t-{next(self._request_ids)}")
        path = f"{stream}/{action}/" + (f"{lookup}/" if lookup is not None else "")
        frame = {"stream": path, "payload": payload or {}, "request_id": request_id}
        extra = {key: value for key, value in extra.items() if value is not None}
        await self.send_text(json.dumps({**frame, **extra}))
        return await self.receive_response(request_id, timeout)

    async def receive_response(
        self, request_id: object, timeout: float | None = None
    ) -> Frame:
        """Return the response frame with `request_id`, keeping events aside."""
        timeout = timeout or self.timeout
        async with asyncio.timeout(timeout):
            while True:
                frame: Frame = json.loads(await self.receive_text(timeout))
                if frame.get("type") == "event":
                    self.events.append(frame)
                elif frame.get("request_id") == request_id:
                    return frame

    async def receive_event(self, timeout: float | None = None) -> Frame:
        """Return the next event frame (as a dict)."""
        if self.events:
            return self.events.pop(0)
        frame: Frame = json.loads(await self.receive_text(timeout or self.timeout))
        assert frame.get("type") == "event", f"Expected an event, got {frame}"
        return frame


# Channels ships no type information: WebsocketCommunicator is Any to mypy.
class AuthWebsocketCommunicator(FrameClient, WebsocketCommunicator):  # type: ignore[misc]
    """A WebsocketCommunicator with a browser's cookies and an allowed Origin.

    Awaiting it creates a real session (logged in as `user` when given), so
    `AuthMiddlewareStack` sees the user. `login()`, `force_login()` and
    `logout()` change that session as a browser would, not the scope of a
    socket that is already open (whose user is fixed at connect).
    """

    def __init__(
        self,
        application: Any,
        path: str,
        user: Any = None,  # An instance of the project's user model.
        headers: list[tuple[bytes, bytes]] | None = None,
        origin: str | None = DEFAULT_ORIGIN,
        **kw: Any,
    ) -> None:
        headers = list(headers or [])
        # A browser always sends Host; without it a view that builds a URL
        # (pagination's `next`) fails with DisallowedHost. Django's test
        # client uses the same default.
        if not any(name == b"host" for name, _ in headers):
            headers.append((b"host", b"testserver"))
        if origin == DEFAULT_ORIGIN:
            host = next(value for name, value in headers if name == b"host")
            origin = "http://" + host.decode("latin-1")
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        super().__init__(application, path, headers=headers, **kw)
        self.user = user
        self.cookies: dict[str, str] = {}
        self.start_frames()
        self.transcript = new_transcript()

    def __await__(self) -> Generator[Any, None, AuthWebsocketCommunicator]:
        return self._start().__await__()

    async def _start(self) -> AuthWebsocketCommunicator:
        session_key = await database_sync_to_async(create_session)(self.user)
        self.cookies[settings.SESSION_COOKIE_NAME] = session_key
        return self

    async def __aenter__(self) -> AuthWebsocketCommunicator:
        if not self.cookies:
            await self
        connected, code = await self.connect()
        assert connected, f"The handshake was refused (close code {code})."
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def connect(self, timeout: float = 5) -> tuple[bool, int | None]:
        # A handshake may read the database (a session, a token): on a loaded
        # machine a second is not always enough.
        # The cookies as they are now, like a browser opening a socket.
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers = [(n, v) for n, v in self.scope["headers"] if n != b"cookie"]
        self.scope["headers"] = [*headers, (b"cookie", cookie.encode())]
        result: tuple[bool, int | None] = await super().connect(timeout)
        return result

    # Sessions, as a browser's login and logout views change them ------------

    def _request(self) -> HttpRequest:
        """A request carrying this browser's cookies and session."""
        request = HttpRequest()
        request.COOKIES = dict(self.cookies)
        request.session = session_store(self.cookies.get(settings.SESSION_COOKIE_NAME))
        return request

    def _keep_session(self, request: HttpRequest) -> None:
        request.session.save()
        self.cookies[settings.SESSION_COOKIE_NAME] = cast(
            str, request.session.session_key
        )

    async def login(self, **credentials: Any) -> bool:
        """Authenticate with `credentials` and log in; return whether it worked."""

        @database_sync_to_async  # type: ignore[untyped-decorator]
        def log_in() -> bool:
            request = self._request()
            user = auth.authenticate(request, **credentials)
            if user is None:
                return False
            auth.login(request, user)
            self._keep_session(request)
            return True

        logged_in: bool = await log_in()
        return logged_in

    async def force_login(self, user: Any, backend: str | None = None) -> None:
        """Log `user` in without credentials (like Django's test client)."""

        @database_sync_to_async  # type: ignore[untyped-decorator]
        def log_in() -> None:
            request = self._request()
            auth.login(request, user, backend=backend or _default_backend())
            self._keep_session(request)

        await log_in()

    async def logout(self) -> None:
        """Log out (also when nobody is logged in), as Django's logout view does."""

        @database_sync_to_async  # type: ignore[untyped-decorator]
        def log_out() -> None:
            request = self._request()
            request.user = auth.get_user(request)
            auth.logout(request)
            self._keep_session(request)

        await log_out()

    # Frames ------------------------------------------------------------------

    async def queue_empty(self, timeout: float = 0.1) -> bool:
        """Tell whether nothing arrives within `timeout` seconds."""
        nothing: bool = await self.receive_nothing(timeout)
        return not self.events and nothing

    async def queue_count(self, wait: float = 0.1) -> int:
        """Return how many frames wait to be received, after `wait` seconds."""
        await asyncio.sleep(wait)
        queued: int = self.output_queue.qsize()
        return len(self.events) + queued

    async def send_text(self, text: str) -> None:
        await self.send_to(text_data=text)

    async def receive_text(self, timeout: float) -> str:
        # A text frame: what the protocol sends.
        return cast(str, await self.receive_from(timeout))

    async def send_to(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        if self.transcript is not None:
            self.transcript.record("send", text_data)
        await super().send_to(text_data=text_data, bytes_data=bytes_data)

    async def receive_from(self, timeout: float = 1) -> str | bytes:
        data: str | bytes = await super().receive_from(timeout)
        if self.transcript is not None:
            self.transcript.record("receive", data)
        return data


# Frames of subscriptions and live queries -----------------------------------------
# Each fails the test, showing the response, when the server refuses. All but
# events_until_quiet() work on a LiveClient too.


def expect_ok(response: Frame, status: int | None = None) -> Frame:
    """Return `response` if its status is `status` (any 2xx when None); else fail."""
    ok = response["status"] == status if status else 200 <= response["status"] < 300
    assert ok, f"Expected status {status or '2xx'}, got {response}"
    return response


async def subscribe(
    ws: FrameClient, stream: str, payload: dict[str, Any], **extra: Any
) -> Frame:
    """Subscribe with the filter `payload`; return the response (status 200).

    `extra` goes into the frame next to `payload`, e.g. `since=42`.
    """
    response = await ws.request(stream, "subscribe", payload=payload, **extra)
    return expect_ok(response, 200)


async def unsubscribe(ws: FrameClient, stream: str, payload: dict[str, Any]) -> Frame:
    """End the subscription with the filter `payload`; return the response."""
    return expect_ok(await ws.request(stream, "unsubscribe", payload=payload), 200)


async def watch(ws: FrameClient, stream: str, payload: dict[str, Any]) -> Frame:
    """Start a live query (what `list` takes); return the response with `watch`."""
    return expect_ok(await ws.request(stream, "watch", payload=payload), 200)


async def join(ws: FrameClient, stream: str, lookup: object) -> list[Any]:
    """Join an object's presence; return the members its response lists (200)."""
    response = await ws.request(stream, "join", lookup)
    members: list[Any] = expect_ok(response, 200)["data"]["members"]
    return members


async def events_until_quiet(
    ws: AuthWebsocketCommunicator, wait: float = 0.3
) -> list[Frame]:
    """Return every event that arrives until none has for `wait` seconds.

    For a communicator (`queue_empty`): to collect what one change causes when
    its number of events is what the test checks.
    """
    events: list[Frame] = []
    while not await ws.queue_empty(wait):
        events.append(await ws.receive_event())
    return events


async def create_user(
    username: str | None = None, password: str = "pw", **kwargs: Any
) -> Any:
    """Create and return a user who can log in with `password`."""
    user_model = auth.get_user_model()
    username = username or f"user-{uuid.uuid4().hex[:10]}"
    return await database_sync_to_async(user_model.objects.create_user)(
        username=username, password=password, **kwargs
    )


async def create_token(user: Any) -> str:
    """Return a new DRF API token (its key) of `user`: `Authorization: Token <key>`."""
    from rest_framework.authtoken.models import Token

    token: Token = await database_sync_to_async(Token.objects.create)(user=user)
    key: str = token.key
    return key


def session_store(session_key: str | None = None) -> SessionBase:
    """Return a session of the configured engine."""
    store: SessionBase = import_string(settings.SESSION_ENGINE + ".SessionStore")(
        session_key
    )
    return store


def create_session(user: Any = None, backend: str | None = None) -> str:
    """Save a new session (logged in as `user`) and return its key.

    Send it as the session cookie from any client, e.g. a real WebSocket
    client against a live server: ``Cookie: sessionid=<key>``.
    """
    request = HttpRequest()
    request.session = session_store()
    request.session.create()
    if user is not None:
        auth.login(request, user, backend=backend or _default_backend())
    request.session.save()
    return cast(str, request.session.session_key)  # Saved: it has one.


def _default_backend() -> str:
    backend: str = settings.AUTHENTICATION_BACKENDS[0]
    return backend
