"""Tickets: POST /api/realtime/ticket/, then /ws/?ticket=... (PROTOCOL.md, Endpoint)."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from realtime_api.auth import tickets
from realtime_api.models import Ticket
from realtime_api.testing import (
    DEFAULT_ORIGIN,
    AuthWebsocketCommunicator,
    create_token,
    create_user,
)

from .whoami import application, username

pytestmark = pytest.mark.django_db(transaction=True)


def ticket_socket(ticket, origin=DEFAULT_ORIGIN, user=None):
    return AuthWebsocketCommunicator(
        application, f"/ws/?ticket={ticket}", user=user, origin=origin
    )


async def opens(socket):
    await socket
    connected, _ = await socket.connect()
    await socket.disconnect()
    return connected


@database_sync_to_async
def issue(user):
    return tickets.issue(user)[0]


def create_token_now(user):
    return Token.objects.create(user=user).key


def test_the_ticket_endpoint_needs_an_authenticated_user(db):
    """Anonymous requests get no ticket."""
    response = APIClient().post("/api/realtime/ticket/")
    assert response.status_code in (401, 403)
    assert not Ticket.objects.exists()


def test_an_authenticated_user_gets_a_short_lived_opaque_ticket(user):
    """A token (or a session) gets {"ticket", "expires_in" <= 60}, never cached."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_token_now(user)}")
    response = client.post("/api/realtime/ticket/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert 0 < body["expires_in"] <= 60
    assert len(body["ticket"]) >= 32
    assert response["Cache-Control"] == "no-store"
    # Stored as a digest only: the table holds nothing usable.
    assert not Ticket.objects.filter(digest=body["ticket"]).exists()
    assert Ticket.objects.get().user == user


async def test_a_ticket_opens_one_socket_as_its_user(user):
    """The ticket's user, from an allowed Origin, once; the cookie is ignored."""
    other = await create_user()
    ticket = await issue(user)
    async with ticket_socket(ticket, user=other) as socket:
        assert await username(socket) == user.username
    assert not await opens(ticket_socket(ticket))  # Reused.


async def test_expired_and_forged_tickets_are_refused(user):
    """A ticket past its time, or one never issued, opens nothing."""
    expired = await issue(user)
    await Ticket.objects.aupdate(expires=timezone.now() - timedelta(seconds=1))
    assert not await opens(ticket_socket(expired))
    assert not await opens(ticket_socket("forged-" + "x" * 40))
    assert not await opens(ticket_socket(""))
    assert not await opens(ticket_socket("x" * 5000))


async def test_a_ticket_of_a_deactivated_user_is_refused(user):
    """A ticket stands for its user only while the user is active."""
    ticket = await issue(user)
    user.is_active = False
    await user.asave()
    assert not await opens(ticket_socket(ticket))


async def test_two_tickets_in_one_url_are_refused(user):
    """A URL must name one ticket: two are ambiguous, and refused."""
    first, second = await issue(user), await issue(user)
    socket = AuthWebsocketCommunicator(
        application, f"/ws/?ticket={first}&ticket={second}"
    )
    assert not await opens(socket)


async def test_racing_handshakes_spend_a_ticket_once(user):
    """Two handshakes with the same ticket at once: exactly one opens."""
    ticket = await issue(user)
    results = await asyncio.gather(*(opens(ticket_socket(ticket)) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://testserver", True),  # The page's own (Host: testserver).
        ("http://localhost", False),  # In ALLOWED_HOSTS, but another host.
        ("https://testserver", False),  # Another scheme than the request's.
        ("http://testserver:8000", False),  # Another port.
        ("https://app.example.com", True),  # In REALTIME_API_ALLOWED_ORIGINS.
        ("https://sub.partner.example", True),  # A subdomain pattern.
        ("https://deep.sub.other.example", True),  # Django's wildcard form.
        ("https://other.example.evil", False),
        ("http://app.example.com", False),  # Another scheme.
        ("https://evil.example.com", False),
        (None, False),
    ],
)
@override_settings(
    REALTIME_API_ALLOWED_ORIGINS=[
        "https://app.example.com",
        "https://.partner.example",
        "https://*.other.example",
    ]
)
async def test_a_ticket_needs_an_allowed_origin(user, origin, allowed):
    """The page's own origin or one in REALTIME_API_ALLOWED_ORIGINS may use tickets."""
    ticket = await issue(user)
    assert await opens(ticket_socket(ticket, origin=origin)) is allowed


@override_settings(REALTIME_API_ALLOWED_ORIGINS=["https://app.example.com"])
async def test_the_allowed_origins_do_not_let_session_cookies_in(user):
    """A session cookie from a ticket-only origin is refused: tickets are for those."""
    socket = AuthWebsocketCommunicator(
        application, "/ws/", user=user, origin="https://app.example.com"
    )
    assert not await opens(socket)


async def test_expired_tickets_are_swept_when_new_ones_are_issued(user):
    """The table does not grow with tickets nobody used."""
    await issue(user)
    await Ticket.objects.aupdate(expires=timezone.now() - timedelta(seconds=1))
    await issue(user)
    assert await Ticket.objects.acount() == 1


async def test_a_ticket_bought_with_a_token_opens_a_socket(user):
    """The ticket view takes any API authentication: here a token."""
    key = await create_token(user)

    @database_sync_to_async
    def buy():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client.post("/api/realtime/ticket/").json()["ticket"]

    async with ticket_socket(await buy()) as socket:
        assert await username(socket) == user.username


@pytest.mark.parametrize("seconds", [0, 61, "30"])
def test_a_ticket_lifetime_outside_a_minute_fails_the_checks(settings, seconds):
    """manage.py check refuses REALTIME_API_TICKET_SECONDS outside 1..60."""
    from realtime_api.apps import check_ticket_seconds

    settings.REALTIME_API_TICKET_SECONDS = seconds
    assert [error.id for error in check_ticket_seconds(None)] == ["realtime_api.E002"]
    settings.REALTIME_API_TICKET_SECONDS = 60
    assert check_ticket_seconds(None) == []
