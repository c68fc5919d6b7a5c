"""Credentials that expire, refreshed on the open socket (PROTOCOL.md, reauthenticate).

With `refresh_credentials` (a function returning, or resolving with, a fresh
Authorization header value such as "Bearer <token>"), each socket learns
when its credentials expire (a `reauthenticate` frame carrying the ones it
opened with: the server answers their `expires_at`), then sends fresh ones
`refresh_before` seconds before that moment (or at half the time left, for
short-lived ones), and again before those expire. A socket whose credentials
never expire (`expires_at` null) or that cannot reauthenticate (a session
cookie's: 400) is left alone. After a close with 4001 (they expired anyway,
or the server ended them) the next handshake carries fresh ones.
"""

import asyncio
import inspect
import logging
from datetime import UTC, datetime

from .errors import RequestError

logger = logging.getLogger(__name__)

EXPIRED = 4001  # PROTOCOL.md: the user, session or credentials changed.
RETRY_SECONDS = 5.0  # After refused fresh credentials, try again this soon.


class CredentialRefresher:
    """Keeps one client's sockets authenticated with fresh credentials."""

    def __init__(self, client, refresh_credentials, refresh_before=30.0):
        self.client = client
        self.refresh_credentials = refresh_credentials
        self.refresh_before = refresh_before
        options = client.socket_options
        token = options.get("token")
        # The credentials the handshakes carry (None: a ticket or a cookie).
        self.authorization = options.get("authorization") or (
            f"Token {token}" if token is not None else None
        )
        self.expires_at = None  # Of the current socket's credentials.
        self.task = None

    async def handshake_options(self, close_code):
        """The options of the next handshake: fresh credentials after a 4001."""
        options = dict(self.client.socket_options)
        if self.authorization is None:
            return options  # A ticket or a cookie authenticates the handshake.
        if close_code == EXPIRED or self.expiring():
            try:
                self.authorization = await self.fresh()
            except Exception:
                # The old ones are tried: refused (403), the client stops.
                logger.exception("refresh_credentials failed")
        options.pop("token", None)
        options["authorization"] = self.authorization
        return options

    def start(self, generation):
        """Keep the socket of `generation` fresh (a task, until it closes)."""
        self.stop()
        self.expires_at = None
        self.task = asyncio.create_task(self.keep_fresh(generation))

    def stop(self):
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def keep_fresh(self, generation):
        try:
            first = self.authorization or await self.fresh()
            expires_at = await self.reauthenticate(first)
            while expires_at is not None and self.client._generation == generation:
                await asyncio.sleep(self.delay(expires_at))
                try:
                    expires_at = await self.reauthenticate(await self.fresh())
                except RequestError as error:
                    if error.status not in (403, 429):
                        raise
                    # Refused, or over the frame rate: again before expiry.
                    logger.warning("Fresh credentials refused: %s", error)
                    await asyncio.sleep(self.retry_delay(error, expires_at))
        except RequestError as error:
            # 400: this socket cannot reauthenticate (a session cookie's); or
            # it closed, and the next one starts again.
            logger.info("Credentials not refreshed on this socket: %s", error)
        except Exception:
            logger.exception("refresh_credentials failed")

    async def reauthenticate(self, authorization):
        """Send the credentials; return when they expire (None: never)."""
        frame = {
            "stream": "reauthenticate",
            "payload": {"authorization": authorization},
        }
        reply = await self.client._reauthenticate(frame)
        self.authorization = authorization if self.authorization is not None else None
        expires_at = reply["data"]["expires_at"]
        self.expires_at = parse_time(expires_at)
        return self.expires_at

    async def fresh(self):
        value = self.refresh_credentials()
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, str) or not value:
            raise ValueError(
                "refresh_credentials must return an Authorization header value, "
                f'e.g. "Bearer <token>", not {value!r}.'
            )
        return value

    def delay(self, expires_at):
        """Seconds to wait before refreshing credentials that expire at `expires_at`.

        `refresh_before` seconds before, or at half the time left when that
        is later (short-lived credentials).
        """
        left = self.seconds_left(expires_at)
        return max(0.0, left - self.refresh_before, left / 2)

    def retry_delay(self, error, expires_at):
        """After a refusal: the 429's `wait`, or a few seconds (before expiry)."""
        wait = error.data.get("wait") if isinstance(error.data, dict) else None
        if isinstance(wait, int | float):
            return wait
        return max(0.5, min(RETRY_SECONDS, self.seconds_left(expires_at) / 2))

    def expiring(self):
        return self.expires_at is not None and self.delay(self.expires_at) <= 0

    @staticmethod
    def seconds_left(expires_at):
        return (expires_at - datetime.now(UTC)).total_seconds()


def parse_time(text):
    """An ISO 8601 time as the server writes it ("Z" for UTC), or None."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
