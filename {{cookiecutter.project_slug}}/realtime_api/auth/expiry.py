"""When the credentials an authentication class accepted expire.

A socket opened with credentials that expire is closed (4001) when they do,
unless the client sends fresher ones first (reauthenticate.py). The DRF
authentication class that accepted them says when, in the first of these
ways that gives an answer:

- a method `get_expires_at(self, user, auth)` on the class: an aware
  datetime, or None for credentials that do not expire;
- an `expires_at` attribute of `auth` (what the class returned as
  `request.auth`): a datetime, or seconds since the epoch;
- a JWT-like `exp` claim of `auth`: `auth.payload["exp"]` (simplejwt's
  tokens) or `auth["exp"]` (a mapping), in seconds since the epoch.

Credentials with none of these (a DRF Token, a session) never expire here.
"""

from collections.abc import Mapping
from datetime import UTC, datetime


def expires_at_of(authenticator, user, auth):
    """The moment `auth` (accepted by `authenticator` for `user`) expires, or None."""
    hook = getattr(authenticator, "get_expires_at", None)
    if callable(hook):
        return as_datetime(hook(user, auth))
    value = getattr(auth, "expires_at", None)
    if value is not None and not callable(value):
        return as_datetime(value)
    return as_datetime(exp_claim(auth))


def exp_claim(auth):
    """A JWT's `exp`: from simplejwt's `token.payload`, or from a mapping."""
    payload = getattr(auth, "payload", None)
    if isinstance(payload, Mapping):
        return payload.get("exp")
    if isinstance(auth, Mapping):
        return auth.get("exp")
    return None


def as_datetime(value):
    """An aware UTC datetime from a datetime (naive: UTC) or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise TypeError(
        f"An expiry must be a datetime or seconds since the epoch, not {value!r}: "
        "see realtime_api/auth/expiry.py."
    )


def has_expired(expires_at):
    """True when `expires_at` (None: never) is now or past."""
    return expires_at is not None and expires_at <= datetime.now(UTC)


def seconds_left(expires_at):
    """Seconds until `expires_at` (negative once past)."""
    return (expires_at - datetime.now(UTC)).total_seconds()


def iso(expires_at):
    """`expires_at` as PROTOCOL.md writes it (ISO 8601, UTC, "Z"), or None."""
    if expires_at is None:
        return None
    return expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
