"""Issue and redeem tickets: a socket handshake authenticated once, by URL.

A browser page on another origin cannot send the session cookie or an
`Authorization` header with a WebSocket handshake. It asks for a ticket over
HTTP (POST /api/realtime/ticket/, authenticated as any API request) and
opens `/ws/?ticket=<ticket>`: the ticket stands for that user for one
handshake, within `REALTIME_API_TICKET_SECONDS`.

A ticket records the session or token that minted it: it is void once that
session or token ends (logged out, deleted, expired), and the socket it
opened is closed then (identity.py).
"""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import SessionAuthentication

from realtime_api import conf
from realtime_api.auth import identity
from realtime_api.models import Ticket

# Longer query values are not tickets: refuse them without hashing.
MAX_TICKET_LENGTH = 128


def digest(ticket):
    return hashlib.sha256(ticket.encode()).hexdigest()


def minted_by(request):
    """("session", key) or ("token", key): what authenticated a DRF request."""
    from realtime_api.auth.revocation import token_model

    token = token_model()
    if token is not None and isinstance(request.auth, token):
        return ("token", request.auth.key)
    if isinstance(request.successful_authenticator, SessionAuthentication):
        key = request._request.session.session_key
        return ("session", key) if key else None
    return None  # Basic, or a project's own class: bound to the user alone.


def issue(user, minted=None):
    """Store a new ticket of `user`; return (ticket, seconds it stays usable).

    `minted`: what minted it (`minted_by()`); the ticket dies with it.
    """
    now = timezone.now()
    # Expired tickets are never redeemed: sweep them as new ones are made.
    Ticket.objects.filter(expires__lte=now).delete()
    ticket = secrets.token_urlsafe(32)
    seconds = conf.ticket_seconds()
    kind, key = minted or ("", "")
    Ticket.objects.create(
        digest=digest(ticket),
        user=user,
        expires=now + timedelta(seconds=seconds),
        minted_by=kind,
        minted_key=key,
    )
    return ticket, seconds


def redeem(ticket):
    """Spend `ticket`; return its user, or None (see `redeem_minted()`)."""
    redeemed = redeem_minted(ticket)
    return None if redeemed is None else redeemed[0]


def redeem_minted(ticket):
    """Spend `ticket`; return (user, what minted it), or None.

    None if it is unknown, used or expired, or if the session or token that
    minted it has ended or is no longer that user's.

    Two handshakes racing with one ticket both read it, but only one deletes
    it: the other is refused.
    """
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    found = Ticket.objects.select_related("user").filter(digest=digest(ticket)).first()
    if found is None:
        return None
    spent, _ = Ticket.objects.filter(pk=found.pk).delete()
    if not spent or found.expires <= timezone.now() or not found.user.is_active:
        return None
    minted = (found.minted_by, found.minted_key) if found.minted_by else None
    if minted is not None:
        held = identity.Held(found.user.pk, **{f"{minted[0]}_key": minted[1]})
        state = identity.read_state([held])
        if not state.accepts(held):
            return None
        found.user = state.users[found.user.pk][1]  # Read with its groups: fresh.
    return found.user, minted
