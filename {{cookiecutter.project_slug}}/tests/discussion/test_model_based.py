"""A randomized, model-based test of who sees what (model_based.py).

Seeded and bounded for CI: 300 steps in this process on the in-memory
layer, and 100 steps on Redis across two daphne processes. A longer run:

    REALTIME_MODEL_STEPS=3000 REALTIME_MODEL_SEED=7 pytest -k model_based

A failure names the seed and the step, and prints the shortest part of the
program found (in REALTIME_MODEL_SHRINK_SECONDS, 240 by default) that still
fails, as a list of steps to paste into `run()`.
"""

import itertools
import os

import pytest
from channels.db import database_sync_to_async

from realtime_api.live_server import LiveClient
from realtime_api.testing import create_session

from .helpers import communicator
from .model_based import StepFailed, as_code, program, run, shrink

pytestmark = pytest.mark.django_db(transaction=True)

SEED = int(os.environ.get("REALTIME_MODEL_SEED", "20261201"))
STEPS = int(os.environ.get("REALTIME_MODEL_STEPS", "0"))
SHRINK_SECONDS = int(os.environ.get("REALTIME_MODEL_SHRINK_SECONDS", "240"))


async def check_program(transport, users, length):
    steps = program(SEED, STEPS or length)
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


class InProcess:
    """Sockets on config.asgi in this process: the in-memory channel layer."""

    timeout = 10

    def __init__(self, users):
        self.users = users

    async def open(self, actor):
        client = communicator(self.users.get(actor))
        await client.__aenter__()
        return client

    async def close(self, client):
        await client.disconnect()


class TwoServers:
    """Real sockets, one after the other on two daphne processes sharing Redis."""

    timeout = 20

    def __init__(self, users, servers):
        self.users = users
        self.servers = itertools.cycle(servers)

    async def open(self, actor):
        user = self.users.get(actor)
        key = user and await database_sync_to_async(create_session)(user)
        return await LiveClient.connect(next(self.servers).url, key)

    async def close(self, client):
        await client.connection.close()


@pytest.fixture
def users(django_user_model):
    """ann, bob and cat, and sam who is staff (anonymous is the fifth actor)."""
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
    """300 random steps on the in-memory layer: the oracle holds after each."""
    await check_program(InProcess(users), users, 300)


@pytest.mark.redis
@pytest.mark.timeout(900)
async def test_every_socket_sees_what_http_lets_its_user_see_across_processes(
    users, daphne_servers
):
    """100 random steps, the sockets spread over two daphne processes on Redis."""
    transport = TwoServers(users, [daphne_servers(), daphne_servers()])
    await check_program(transport, users, 100)
