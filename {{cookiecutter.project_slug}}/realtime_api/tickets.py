"""Issue and redeem tickets: a socket handshake authenticated once, by URL.

A browser page on another origin cannot send the session cookie or an
`Authorization` header with a WebSocket handshake. It asks for a ticket over
HTTP (POST /api/realtime/ticket/, authenticated as any API request) and
opens `/ws/?ticket=<ticket>`: the ticket stands for that user for one
handshake, within `REALTIME_API_TICKET_SECONDS`.
"""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from . import conf
from .models import Ticket

# Longer query values are not tickets: refuse them without hashing.
MAX_TICKET_LENGTH = 128


def digest(ticket):
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue(user):
    """Store a new ticket of `user`; return (ticket, seconds it stays usable)."""
    now = timezone.now()
    # Expired tickets are never redeemed: sweep them as new ones are made.
    Ticket.objects.filter(expires__lte=now).delete()
    ticket = secrets.token_urlsafe(32)
    seconds = conf.ticket_seconds()
    Ticket.objects.create(
        digest=digest(ticket), user=user, expires=now + timedelta(seconds=seconds)
    )
    return ticket, seconds


def redeem(ticket):
    """Spend `ticket`; return its user, or None if it is unknown, used or expired.

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
    return found.user
