"""Redis behind Sentinel, failed over for real: two daphne processes on
`redis+sentinel://`, sockets subscribed and present, the primary killed.

After Sentinel promotes the replica, every client (channel layer, event log,
presence) reconnects to the new primary: events written after the failover
reach subscribers of both processes, presence heals within its bound, and
the servers log nothing at ERROR once the failover window is over.
"""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from realtime_api.testing import create_session, join
from realtime_api.testing.live_server import LiveClient, live_client
from tests.conftest import require_program

from .sentinel import SentinelCluster
from .testapp.models import Folder

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

HEARTBEAT, TTL = 0.5, 2
FAST_PRESENCE = {
    "REALTIME_API_PRESENCE_HEARTBEAT_SECONDS": str(HEARTBEAT),
    "REALTIME_API_PRESENCE_TTL_SECONDS": str(TTL),
    "REALTIME_API_PRESENCE_GRACE_SECONDS": "0",
}
# Sentinel's detection (1 s) and promotion, then the clients' reconnects.
WINDOW = 15


@pytest.fixture
def sentinel_cluster(tmp_path):
    require_program("redis-server", "to run a Redis primary, replica and Sentinel")
    cluster = SentinelCluster(tmp_path).start()
    yield cluster
    cluster.stop()


def member(user):
    return {"id": user.pk, "name": user.username}


async def session(user):
    return await database_sync_to_async(create_session)(user)


async def eventually(attempt, timeout=WINDOW):
    """Retry `attempt()` (an awaitable factory) until it returns without raising."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await attempt()
        except (AssertionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_sentinel_failover_keeps_events_and_presence(
    testapp_servers, sentinel_cluster, user, other, admin
):
    """Kill the primary under subscribed and present sockets on two processes:
    after the promotion, writes reach both processes' subscribers, presence
    lists who is still there, and nothing more is logged at ERROR."""
    env = {"REDIS_URL": sentinel_cluster.url, **FAST_PRESENCE}
    one, two = testapp_servers(env=env), testapp_servers(env=env)
    folder = await Folder.objects.acreate(name="Failover", owner=user)
    filter_ = {"folder": folder.pk}
    async with (
        live_client(two.url, await session(user)) as writer,
        live_client(one.url) as near,
        live_client(two.url) as far,
        await LiveClient.connect(one.url, await session(user)) as here,
        await LiveClient.connect(two.url, await session(other)) as there,
    ):
        subscriptions = [await near.subscribe("notes", filter_)]
        subscriptions.append(await far.subscribe("notes", filter_))
        await join(here, "folders", folder.pk)
        await join(there, "folders", folder.pk)
        assert (await here.receive_event())["data"]["joined"] == [member(other)]

        async def write(text):
            payload = {**filter_, "text": text}
            created = await writer.request("notes", "create", payload=payload)
            assert created["status"] == 201, created
            return created["data"]["id"]

        before = await write("before")
        for subscription in subscriptions:
            assert (await subscription.next(timeout=5))["data"]["id"] == before

        sentinel_cluster.fail_over()
        assert sentinel_cluster.primary() == sentinel_cluster.replica_port

        # The first writes after the promotion may land while a process is
        # still reconnecting; each subscriber must hear one of them within
        # the window, then every later write.
        async def heard_after_failover():
            note = await write("after the failover")
            for subscription in subscriptions:
                heard = await subscription.next(timeout=2)
                while heard["data"]["id"] != note:
                    heard = await subscription.next(timeout=2)

        await eventually(heard_after_failover)
        settled = [len(one.log()), len(two.log())]

        later = await write("later")
        for subscription in subscriptions:
            assert (await subscription.next(timeout=5))["data"]["id"] == later

        # Presence heals: a newcomer on either process sees who is still there.
        async with await LiveClient.connect(one.url, await session(admin)) as late:

            async def everyone_present():
                members = await join(late, "folders", folder.pk)
                assert members == [member(admin), member(other), member(user)]

            await eventually(everyone_present, timeout=TTL + HEARTBEAT + 5)

        for server, start in zip((one, two), settled, strict=True):
            assert "ERROR" not in server.log()[start:], server.log()[start:]
