"""A randomized, model-based test of who sees what (model_based.py).

Seeded and bounded: 300 steps in this process on the in-memory layer, and
100 steps on Redis across two daphne processes, with `pytest --long` (as CI
runs it); 80 and 30 in a developer's `pytest`. A longer run:

    REALTIME_MODEL_STEPS=3000 REALTIME_MODEL_SEED=7 pytest -k model_based

A failure names the seed and the step, and prints the shortest part of the
program found (in REALTIME_MODEL_SHRINK_SECONDS, 240 by default) that still
fails, as a list of steps to paste into `run()`.
"""

import itertools
import os

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.test import APIClient

from realtime_api.auth import identity
from realtime_api.testing import create_session
from realtime_api.testing.live_server import LiveClient

from ..sizes import size
from .helpers import communicator
from .model_based import IDENTITY_STEPS, StepFailed, as_code, program, run, shrink

pytestmark = pytest.mark.django_db(transaction=True)

SEED = int(os.environ.get("REALTIME_MODEL_SEED", "20261201"))
IN_PROCESS_STEPS = size("REALTIME_MODEL_STEPS", quick=40, full=300)
ACROSS_PROCESSES_STEPS = size("REALTIME_MODEL_STEPS", quick=30, full=100)
SHRINK_SECONDS = int(os.environ.get("REALTIME_MODEL_SHRINK_SECONDS", "240"))


async def check_program(transport, users, length):
    steps = program(SEED, length)
    try:
        await run(transport, users, steps)
    except StepFailed as failure:
        smallest = await shrink(
            transport, users, steps[: failure.index + 1], SHRINK_SECONDS
        )
        pytest.fail(
            f"Seed {SEED}, {failure}\n"
            f"A smallest failing program found ({len(smallest)} steps):\n"
            f"[\n{as_code(smallest)}\n]",
            pytrace=False,
        )
    print(f"{len(steps)} steps of seed {SEED}: the oracle held after each")


def mint_ticket(session_key):
    """POST /api/realtime/ticket/ with a session: the ticket dies with it."""
    client = APIClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    response = client.post("/api/realtime/ticket/")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


class InProcess:
    """Sockets on config.asgi in this process: the in-memory channel layer."""

    timeout = 10

    def __init__(self, users):
        self.users = users

    async def open(self, actor, by_ticket=False):
        """(client, the session it was opened with or its ticket minted by)."""
        user = self.users.get(actor)
        if by_ticket and user is not None:
            key = await database_sync_to_async(create_session)(user)
            ticket = await database_sync_to_async(mint_ticket)(key)
            client = communicator(path=f"/ws/?ticket={ticket}")
            await client.__aenter__()
            return client, key
        client = communicator(user)
        await client.__aenter__()
        key = client.cookies[settings.SESSION_COOKIE_NAME] if user else None
        return client, key

    async def next(self, client):
        """("frame", text) or ("close", code): what the server sent next."""
        output = await client.receive_output(self.timeout)
        if output["type"] == "websocket.close":
            return "close", output.get("code")
        return "frame", output["text"]

    async def close(self, client):
        await client.disconnect()


class TwoServers:
    """Real sockets, one after the other on two daphne processes sharing Redis."""

    timeout = 20

    def __init__(self, users, servers):
        self.users = users
        self.servers = itertools.cycle(servers)

    async def open(self, actor, by_ticket=False):
        user = self.users.get(actor)
        key = user and await database_sync_to_async(create_session)(user)
        server = next(self.servers)
        if by_ticket and key:
            ticket = await database_sync_to_async(mint_ticket)(key)
            return await LiveClient.connect(server.url, ticket=ticket), key
        return await LiveClient.connect(server.url, key), key

    async def next(self, client):
        try:
            return "frame", await client.receive_text(self.timeout)
        except websockets.ConnectionClosed as closed:
            return "close", closed.rcvd.code if closed.rcvd else None

    async def close(self, client):
        await client.connection.close()


@pytest.fixture
def users(django_user_model):
    """ann, bob and cat, and sam who is staff (anonymous is the fifth actor).

    Steps change them (privileges, deactivation); each run resets them.
    """
    made = {
        name: django_user_model.objects.create_user(username=name, password="pw")
        for name in ("ann", "bob", "cat")
    }
    made["sam"] = django_user_model.objects.create_user(
        username="sam", password="pw", is_staff=True
    )
    return made


@pytest.mark.timeout(900)
async def test_every_socket_sees_what_http_lets_its_user_see(users):
    """Random steps on the in-memory layer: the oracle holds after each."""
    await check_program(InProcess(users), users, IN_PROCESS_STEPS)


@pytest.mark.redis
@pytest.mark.timeout(900)
async def test_every_socket_sees_what_http_lets_its_user_see_across_processes(
    users, daphne_servers
):
    """Random steps, the sockets spread over two daphne processes on Redis."""
    transport = TwoServers(users, [daphne_servers(), daphne_servers()])
    await check_program(transport, users, ACROSS_PROCESSES_STEPS)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_frozen_user_is_caught_and_shrunk(users, monkeypatch):
    """The mutation: sockets keep the user of their handshake (no sweep).

    The oracle must fail on an identity step, and the shrunk program must be
    a handful of steps that still end with one.
    """

    async def frozen(self):
        return None

    monkeypatch.setattr(identity.Sweep, "sweep", frozen)
    transport = InProcess(users)
    steps = program(SEED, 80)
    with pytest.raises(StepFailed) as failed:
        await run(transport, users, steps)
    assert steps[failed.value.index][0] in IDENTITY_STEPS, failed.value
    smallest = await shrink(
        transport, users, steps[: failed.value.index + 1], SHRINK_SECONDS
    )
    print(f"Frozen user caught; shrunk to:\n{as_code(smallest)}")
    assert len(smallest) <= 4, as_code(smallest)
    assert smallest[-1][0] in IDENTITY_STEPS
