"""The three handshakes against a real daphne, with the Python client."""

import asyncio
import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.client import HandshakeRefused
from realtime_api.testing import create_token
from realtime_api.testing.live_server import DaphneServer, live_client

pytestmark = pytest.mark.django_db(transaction=True)

APPLICATION = "tests.realtime.whoami_asgi:application"
APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def servers(transactional_db):
    """Start whoami servers (the project's HTTP): `start()`; stopped after the test."""
    started = []

    def start():
        env = {"REALTIME_API_ALLOWED_ORIGINS": APP_ORIGIN}
        server = DaphneServer(env=env, application=APPLICATION).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def whoami(client):
    return (await client.request("whoami", "list"))["data"]["username"]


def buy_ticket(server, key):
    """POST /api/realtime/ticket/ over real HTTP, with the token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/realtime/ticket/",
        method="POST",
        headers={"Authorization": f"Token {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


async def test_a_script_connects_with_a_token_and_no_origin(servers, user):
    """The Python client with a token sends no Origin, and is that user."""
    key = await create_token(user)
    async with live_client(servers().url, token=key) as client:
        assert await whoami(client) == user.username


async def test_a_wrong_token_is_refused_with_http_403(servers, user):
    """A real daphne answers the upgrade with 403: HandshakeRefused."""
    with pytest.raises(HandshakeRefused) as refused:
        await live_client(servers().url, token="not-a-token").connect()
    assert refused.value.status == 403


async def test_a_ticket_opens_one_socket_from_another_origin_on_any_process(
    servers, user
):
    """A ticket bought on one server opens a socket on another (both use the
    database), once, from an origin in REALTIME_API_ALLOWED_ORIGINS."""
    one, two = servers(), servers()
    key = await create_token(user)
    bought = await asyncio.to_thread(buy_ticket, one, key)
    assert 0 < bought["expires_in"] <= 60
    options = {"ticket": bought["ticket"], "origin": APP_ORIGIN, "reconnect": False}
    async with live_client(two.url, **options) as client:
        assert await whoami(client) == user.username
    for server in (one, two):
        with pytest.raises(HandshakeRefused) as reused:
            await live_client(server.url, **options).connect()
        assert reused.value.status == 403
    fresh = await asyncio.to_thread(buy_ticket, one, key)
    with pytest.raises(HandshakeRefused):
        options = {"ticket": fresh["ticket"], "origin": "https://evil.example.com"}
        await live_client(two.url, **options).connect()


async def test_a_client_whose_token_is_revoked_meanwhile_stops(servers, user):
    """A reconnect refused with 403 ends the client: waiting calls raise."""
    key = await create_token(user)
    server = servers()
    async with live_client(server.url, token=key, min_delay=0.05) as client:
        assert await whoami(client) == user.username
        server.stop()
        await Token.objects.filter(key=key).adelete()
        server.start()
        assert await client.wait_closed(timeout=10) not in (None, 1000)
        with pytest.raises(HandshakeRefused) as refused:
            await client.request("whoami", "list")
        assert refused.value.status == 403


@pytest.mark.redis
async def test_deleting_a_token_closes_its_socket_on_the_server(servers, user):
    """Deleted in this process, closed (4001) in the server's, through Redis."""
    key = await create_token(user)
    states = []
    client = live_client(
        servers().url,
        token=key,
        min_delay=0.05,
        on_state_change=lambda state, info: states.append((state, info["code"])),
    )
    async with client:
        assert await whoami(client) == user.username
        await Token.objects.filter(key=key).adelete()
        assert await client.wait_closed(timeout=10) == CLOSE_CODE
        assert ("reconnecting", CLOSE_CODE) in states
        with pytest.raises(HandshakeRefused):
            await client.request("whoami", "list")
