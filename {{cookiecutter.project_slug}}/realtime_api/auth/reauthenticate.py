"""Credentials that expire close their socket, unless the client sends fresher ones.

PROTOCOL.md, "Present credentials": a socket whose credentials expire
(realtime_api/auth/expiry.py says how an authentication class tells) is closed
with 4001 at that moment, unless the client has sent first

    {"stream": "reauthenticate", "payload": {"authorization": "Bearer <new>"},
     "request_id": ...}

which the project's DRF authentication classes check as they check a
handshake's header:

- valid for the socket's user: 200 `{"expires_at": <ISO time or null>}`;
  the socket's timer moves to the new expiry (null: none), and on a header
  socket the new header is what its later requests carry;
- invalid, expired, or another user's: 403, and nothing changes (the old
  expiry stands; a socket never changes its user);
- a payload without an `authorization` string: 400;
- a socket opened with the session cookie, which follows its session
  instead: 400. A ticket socket may reauthenticate: its user must be the
  credentials' user, and its expiry becomes theirs (a page that buys its
  tickets with expiring credentials keeps its socket as long as it refreshes
  them).

A socket without an expiry costs nothing: no timer is scheduled.
"""

import asyncio
import dataclasses
import logging

from realtime_api.auth import pool as auth_pool
from realtime_api.auth.expiry import iso, seconds_left
from realtime_api.auth.handshake import authenticate_header
from realtime_api.auth.revocation import CLOSE_CODE, discard_groups, identity_groups
from realtime_api.protocol import ProtocolError, dumps, response_frame
from realtime_api.sockets.contract import ConsumerPart

logger = logging.getLogger(__name__)

EXPIRED_REASON = "credentials expired"
PAYLOAD_HELP = (
    'reauthenticate takes "payload": {"authorization": "<scheme> <credentials>"}, '
    'e.g. {"authorization": "Bearer <token>"}.'
)


class ReauthenticateMixin(ConsumerPart):
    """A consumer closed (4001) when its credentials expire, unless reauthenticated.

    Needs (sockets/contract.py): scope, channel_layer, channel_name, close,
    identity_groups, scope_changed.
    Provides: handle_reauthenticate.
    Extends Channels': connect, disconnect.
    """

    expiry_timer = None  # An asyncio TimerHandle while an expiry is set.
    _expiry_close = None  # The task closing it on expiry, while it runs.

    async def connect(self):
        await super().connect()
        credentials = self.scope.get("realtime_credentials")
        if credentials is not None:
            self.schedule_expiry(credentials.expires_at)

    async def disconnect(self, code):
        self.schedule_expiry(None)
        await super().disconnect(code)

    def schedule_expiry(self, expires_at):
        """Close this socket at `expires_at` (None: never), replacing any timer."""
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None
        if expires_at is not None:
            delay = max(0.0, seconds_left(expires_at))
            loop = asyncio.get_running_loop()
            self.expiry_timer = loop.call_later(delay, self.credentials_expired)

    def credentials_expired(self):
        self.expiry_timer = None
        task = asyncio.ensure_future(self.close(code=CLOSE_CODE, reason=EXPIRED_REASON))
        # Keep a reference until it is done (the loop holds only a weak one).
        self._expiry_close = task
        task.add_done_callback(lambda _: setattr(self, "_expiry_close", None))

    async def handle_reauthenticate(self, frame):
        """Answer a `reauthenticate` frame; return the response frame."""
        authorization = header_value(frame.payload)
        credentials = self.scope.get("realtime_credentials")
        if credentials is None:
            raise ProtocolError(
                400,
                "This socket was opened with the session cookie and follows its "
                "session: reauthenticate applies to sockets opened with an "
                "Authorization header or a ticket.",
            )
        scope = with_authorization(self.scope, authorization)
        # As a handshake: in the authentication threads, never in the one
        # every socket's views share (a Basic password costs a PBKDF2).
        result = await auth_pool.authenticate(authenticate_header, scope)
        if result is None:
            raise ProtocolError(
                403,
                "These credentials are not valid (wrong, revoked or expired): "
                f"the socket keeps its own, {expiry_text(credentials.expires_at)}.",
            )
        user, fresh = result
        if user.pk != self.scope["user"].pk:
            raise ProtocolError(
                403,
                "These credentials are another user's: a socket never changes "
                "its user (open a new socket for that user).",
            )
        if credentials.method == "header":
            await self.swap_header(scope, fresh)
        else:
            self.scope["realtime_credentials"] = dataclasses.replace(
                credentials, expires_at=fresh.expires_at
            )
        self.schedule_expiry(fresh.expires_at)
        return response_frame(frame, 200, dumps({"expires_at": iso(fresh.expires_at)}))

    async def swap_header(self, scope, fresh):
        """Serve later requests with the new header, and follow its token."""
        before = set(self.identity_groups)
        self.scope["headers"] = scope["headers"]
        self.scope["realtime_credentials"] = fresh
        self.scope_changed()
        after = identity_groups(self.scope)
        self.identity_groups = after
        try:
            for group in set(after) - before:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:
            logger.exception("Channel layer unreachable: identity groups not joined")
        await discard_groups(self, before - set(after))


def header_value(payload):
    """The payload's `authorization`, as a header value, or a 400."""
    value = payload.get("authorization")
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(400, PAYLOAD_HELP)
    if any(char in value for char in "\r\n\0"):
        raise ProtocolError(400, "authorization must be one line of text.")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ProtocolError(
            400, "authorization must be Latin-1 text, as an HTTP header is."
        ) from None
    return value


def with_authorization(scope, authorization):
    """`scope` with `authorization` as its only credentials (no cookie)."""
    headers = [
        (name, value)
        for name, value in scope.get("headers", ())
        if name.lower() not in (b"authorization", b"cookie")
    ]
    headers.append((b"authorization", authorization.encode("latin-1")))
    return {**scope, "headers": headers}


def expiry_text(expires_at):
    return "which never expire" if expires_at is None else f"until {iso(expires_at)}"
