"""Credentials that expire, against a real daphne, with the Python client.

The server adds SignedExpiringToken (expiring_token.py) to its authentication
classes (expiring_settings.py). The client's `refresh_credentials` keeps a
socket open past its first token's expiry; without it the socket closes
with 4001 at that moment; after a 4001 it reconnects with fresh credentials.
"""

import asyncio
import json

import pytest

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.client import HandshakeRefused
from realtime_api.testing import create_user
from realtime_api.testing.live_server import DaphneServer, LiveClient, live_client

from .expiring import bearer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

SERVER = {
    "env": {"DJANGO_SETTINGS_MODULE": "tests.realtime.expiring_settings"},
    "application": "tests.realtime.expiring_asgi:application",
}


@pytest.fixture
def server(transactional_db):
    """A daphne serving expiring.py's socket, stopped after the test."""
    started = DaphneServer(**SERVER).start()
    yield started
    started.stop()


async def whoami(client):
    response = await client.request("bearer-whoami", "list")
    assert response["status"] == 200, response
    return response["data"]["username"]


async def reauthenticate(client, authorization, request_id):
    frame = {
        "stream": "reauthenticate",
        "payload": {"authorization": authorization},
        "request_id": request_id,
    }
    await client.send_text(json.dumps(frame))
    return await client.receive_response(request_id)


async def test_a_socket_closes_4001_at_expiry_whatever_else_it_sends(server, user):
    """Another user's token and an invalid one are 403s: the same user stays,
    and the socket still closes with 4001 at its own token's expiry."""
    other = await create_user()
    client = await LiveClient.connect(server.url, authorization=bearer(user, 3))
    async with client:
        assert await whoami(client) == user.username
        refused = await reauthenticate(client, bearer(other, 60), "other")
        assert refused["status"] == 403
        invalid = await reauthenticate(client, "Bearer forged", "forged")
        assert invalid["status"] == 403
        assert await whoami(client) == user.username
        assert await client.close_code(timeout=8) == CLOSE_CODE


async def test_reauthenticating_keeps_a_socket_past_its_first_expiry(server, user):
    """A fresher token of the same user: open past the first one's exp, and
    the view reads the new token."""
    client = await LiveClient.connect(server.url, authorization=bearer(user, 2))
    async with client:
        answer = await reauthenticate(client, bearer(user, 60), "fresh")
        assert answer["status"] == 200
        assert answer["data"]["expires_at"].endswith("Z")
        await asyncio.sleep(3)
        assert await whoami(client) == user.username


async def test_an_expired_token_is_refused_with_http_403(server, user):
    with pytest.raises(HandshakeRefused) as refused:
        await live_client(server.url, authorization=bearer(user, -1)).connect()
    assert refused.value.status == 403


async def test_the_client_refreshes_before_expiry(server, user):
    """refresh_credentials is called before each 2 s token expires: the one
    socket stays open for 5 s, with no close and no reconnect."""
    calls, states = [], []

    async def refresh():
        calls.append(1)
        return bearer(user, 2)

    options = {
        "authorization": bearer(user, 2),
        "refresh_credentials": refresh,
        "on_state_change": lambda state, info: states.append((state, info["code"])),
    }
    async with live_client(server.url, **options) as client:
        await asyncio.sleep(5)
        assert await whoami(client) == user.username
        assert client.close_code is None
    assert len(calls) >= 3, calls
    assert ("reconnecting", CLOSE_CODE) not in states


async def test_without_refresh_the_client_reconnects_with_fresh_credentials(
    server, user
):
    """Fresh credentials refused on the socket: it closes 4001 at expiry, and
    the client's next handshake carries the fresh ones refresh_credentials gives."""
    states = []

    def refresh():
        if ("reconnecting", CLOSE_CODE) in states:
            return bearer(user, 60)
        return "Bearer not-valid-yet"

    options = {
        "authorization": bearer(user, 2),
        "refresh_credentials": refresh,
        "min_delay": 0.1,
        "on_state_change": lambda state, info: states.append((state, info["code"])),
    }
    async with live_client(server.url, **options) as client:
        assert await whoami(client) == user.username
        for _ in range(100):
            if states[-1] == ("open", None) and len(states) > 2:
                break
            await asyncio.sleep(0.1)
        assert ("reconnecting", CLOSE_CODE) in states, states
        assert await whoami(client) == user.username
        assert client.state == "open"
