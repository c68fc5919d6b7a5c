"""Who opens a socket: an `Authorization` header, a ticket, or the session cookie.

`RealtimeAuthMiddlewareStack` (config/asgi.py) takes the first that applies:

- an `Authorization` header: the project's DRF authentication classes
  (DEFAULT_AUTHENTICATION_CLASSES) decide, as for an HTTP request; a header
  none of them accepts refuses the handshake, with no fallback to anonymous.
  No Origin is checked: a header is no ambient credential (browsers cannot
  set it on a WebSocket handshake), and the cookie is ignored;
- `?ticket=` in the URL: a ticket from POST /api/realtime/ticket/, spent by
  this handshake; the page's Origin must pass Django's CSRF Origin check or
  be in REALTIME_API_ALLOWED_ORIGINS (realtime_api/auth/origins.py);
- otherwise the session cookie, from an Origin Django's CSRF check accepts
  for an unsafe request (that check stands for the CSRF token over a socket).

A refused handshake is closed before it is accepted: HTTP 403.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from realtime_api.auth import pool as auth_pool
from realtime_api.auth import tickets
from realtime_api.auth.expiry import expires_at_of, has_expired
from realtime_api.auth.origins import CsrfOriginValidator
from realtime_api.auth.revocation import token_group
from realtime_api.limits.handshake_guard import refuse_with_retry_after
from realtime_api.limits.password_failures import failures as password_failures
from realtime_api.limits.refusal import Refusal
from realtime_api.streams import request_factory


@dataclass(frozen=True)
class Credentials:
    """How a socket was authenticated, when not by its session cookie.

    Kept in the scope as "realtime_credentials" (absent for the cookie).
    """

    method: str  # "header" or "ticket"
    # Header: DRF's `request.auth` (a Token), and the authentication classes
    # tried at the handshake, the one that accepted the header last.
    auth: object = None
    authentication_classes: tuple = ()
    # When they expire (realtime_api/auth/expiry.py): the socket closes then
    # (4001), unless a `reauthenticate` frame moves it (reauthenticate.py).
    expires_at: datetime | None = None
    # Ticket: what minted it, ("session", key) or ("token", key), or None; the
    # socket lives as long as that does (identity.py).
    minted_by: tuple | None = None

    @property
    def revocable(self):
        """Deleting the credential closes the socket (a DRF Token)."""
        return token_group(self.auth) is not None

    def authenticate(self, request, view):
        """Authenticate a request of this socket to `view` as HTTP would.

        A ticket stands for a session: the request carries the user, and the
        view's SessionAuthentication reads it. A header is read by the view's
        own authentication classes, as over HTTP; where they begin with the
        classes that accepted it at the handshake they would answer the same,
        so the handshake's answer is reused: no query per frame, and no
        password hashed per frame or per watch evaluation for Basic (a
        PBKDF2, ~0.25 s, would stall the thread that runs every socket's
        views). What would change that answer closes the socket instead
        (4001, sessions.py): a deleted token, or the user's password changed
        or account deactivated (every authenticated socket is in its user's
        group). Credentials replaced by `reauthenticate` keep this answer too,
        so a request built later for events still runs as the socket's user.
        """
        if self.method != "header":
            return
        classes = tuple(getattr(view, "authentication_classes", ()))
        if classes[: len(self.authentication_classes)] == self.authentication_classes:
            # What DRF's Request takes as already authenticated (its
            # force_authenticate() in tests sets the same two attributes).
            request._force_auth_user = request.user
            request._force_auth_token = self.auth
        else:
            request.user = AnonymousUser()


def RealtimeAuthMiddlewareStack(inner: Any) -> "HandshakeAuthMiddleware":
    """Authenticate WebSocket handshakes by header, ticket or session cookie."""
    return HandshakeAuthMiddleware(inner)


class HandshakeAuthMiddleware:
    """Send each handshake to the authentication its credentials ask for."""

    def __init__(self, inner: Any) -> None:
        self.by_header = HeaderAuthMiddleware(inner)
        self.by_ticket = CsrfOriginValidator(TicketAuthMiddleware(inner), True)
        self.by_session = CsrfOriginValidator(AuthMiddlewareStack(inner))

    # Not `async`: it hands on the inner application's coroutine, so no frame
    # of its own is kept for each socket (BENCHMARKS.md, "An idle socket").
    _asgi_single_callable = True  # What asgiref asks of a plain __call__.

    def __call__(self, scope, receive, send):
        headers = scope.get("headers", ())
        if any(name.lower() == b"authorization" for name, _ in headers):
            return self.by_header(without_cookie(scope), receive, send)
        if "ticket" in query_params(scope):
            return self.by_ticket(without_cookie(scope), receive, send)
        return self.by_session(scope, receive, send)


class HeaderAuthMiddleware:
    """Authenticate the handshake's `Authorization` header with DRF's classes."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        # Its own threads, never the database thread that every socket shares:
        # a password costs a PBKDF2 (auth_pool.py).
        # A wrong password counts against its address: past a few, the guard
        # refuses that address's Basic handshakes before hashing (429).
        result = await auth_pool.authenticate(
            authenticate_header, scope, rejected=password_failures.failed
        )
        if result is None:
            return await WebsocketDenier()(scope, receive, send)
        if isinstance(result, Refusal):  # Its address ran out while it waited.
            return await refuse_with_retry_after(scope, receive, send, result)
        user, credentials = result
        scope = {**scope, "user": user, "realtime_credentials": credentials}
        return await self.inner(scope, receive, send)


class TicketAuthMiddleware:
    """Authenticate the handshake by its `?ticket=`, spending the ticket."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        values = query_params(scope)["ticket"]
        redeemed = None
        if len(values) == 1:
            redeemed = await database_sync_to_async(tickets.redeem_minted)(values[0])
        if redeemed is None:
            return await WebsocketDenier()(scope, receive, send)
        user, minted_by = redeemed
        credentials = Credentials("ticket", minted_by=minted_by)
        scope = {**scope, "user": user, "realtime_credentials": credentials}
        return await self.inner(scope, receive, send)


def authenticate_header(scope):
    """Run DEFAULT_AUTHENTICATION_CLASSES on the handshake, as DRF would.

    Return (user, Credentials), or None when no class accepts the header or
    one rejects it (a wrong or revoked token), or it has expired.
    """
    django_request = request_factory.build_request(
        request_factory.http_scope(scope), "GET", scope.get("path", "/")
    )
    request = Request(django_request)
    classes: tuple[Any, ...] = tuple(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    for index, authentication_class in enumerate(classes):
        authenticator = authentication_class()
        try:
            result = authenticator.authenticate(request)
        except exceptions.APIException:
            return None
        if result is None:
            continue
        user, auth = result
        if user is None or not user.is_authenticated:
            return None
        expires_at = expires_at_of(authenticator, user, auth)
        if has_expired(expires_at):
            return None
        return user, Credentials("header", auth, classes[: index + 1], expires_at)
    return None


def query_params(scope):
    """The handshake URL's query parameters (blank values kept)."""
    query = scope.get("query_string", b"").decode("latin-1")
    return parse_qs(query, keep_blank_values=True)


def without_cookie(scope):
    """The scope without its Cookie header: a header or ticket decides alone."""
    headers = [(n, v) for n, v in scope.get("headers", ()) if n.lower() != b"cookie"]
    return {**scope, "headers": headers}
