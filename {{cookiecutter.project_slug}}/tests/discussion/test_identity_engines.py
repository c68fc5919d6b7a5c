"""Present credentials with each session engine, and tickets bound to their minter.

In this process (the in-memory layer): what identity.py reads for the cache
and signed-cookie engines, and what redeeming a ticket checks. The live
reproductions are in test_live_identity.py.
"""

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import override_settings
from rest_framework.authtoken.models import Token

from config.asgi import application
from realtime_api.auth import tickets
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import AuthWebsocketCommunicator, create_session
from tests.realtime.helpers import WITHIN, close_code, mint_ticket

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(user):
    ws = AuthWebsocketCommunicator(application, "/ws/", user=user)
    await ws
    connected, _ = await ws.connect()
    assert connected
    response = await ws.request("topics", "list")
    assert response["status"] == 200
    return ws


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache")
async def test_a_session_deleted_from_the_cache_closes_its_socket(user):
    ws = await open_socket(user)
    await database_sync_to_async(cache.clear)()  # A cache flush.
    assert await close_code(ws) == CLOSE_CODE


@override_settings(
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    SESSION_COOKIE_AGE=2,
)
async def test_a_signed_cookie_session_expires_on_time(user):
    """Signed cookies cannot be deleted on the server; their age still ends them."""
    ws = await open_socket(user)
    with pytest.raises(TimeoutError):
        await close_code(ws, timeout=1)
    assert await close_code(ws, timeout=2 + WITHIN) == CLOSE_CODE


def test_a_ticket_is_void_once_its_session_ends(user):
    key = create_session(user)
    ticket = mint_ticket(session_key=key)
    Session.objects.filter(session_key=key).delete()
    assert tickets.redeem(ticket) is None


def test_a_ticket_is_void_once_its_token_is_deleted(user):
    token = Token.objects.create(user=user)
    ticket = mint_ticket(token=token.key)
    token.delete()
    assert tickets.redeem(ticket) is None


def test_a_ticket_of_a_live_session_opens_as_its_user(user):
    key = create_session(user)
    found, minted = tickets.redeem_minted(mint_ticket(session_key=key))
    assert found == user
    assert minted == ("session", key)
