"""Several server processes on real Redis: events cross processes, and an
outage of Redis degrades the socket API without breaking it."""

import asyncio
import shutil
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from realtime_api.client import RequestError
from realtime_api.testing import create_session
from realtime_api.testing.live_server import RedisServer, live_client
from tests.conftest import running_in_ci

from .testapp.models import Folder

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def as_read_by_others(data):
    """A note as its author's create answered it, as others (anonymous) see it."""
    return {**data, "can_edit": False}


def run_in_shell(env, code):
    """Run Python code in a third process: `manage.py shell -c`."""
    manage = str(settings.BASE_DIR / "manage.py")
    subprocess.run([sys.executable, manage, "shell", "-c", code], env=env, check=True)


async def test_changes_reach_subscribers_of_every_process(testapp_servers, user):
    """A change through one server reaches subscribers on both; so does a shell's."""
    one, two = testapp_servers(), testapp_servers()
    folder = await Folder.objects.acreate(name="Shared", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with (
        live_client(one.url, key) as writer,
        live_client(one.url) as near,
        live_client(two.url) as far,
    ):
        subscriptions = [
            await near.subscribe("notes", {"folder": folder.pk}),
            await far.subscribe("notes", {"folder": folder.pk}),
        ]
        payload = {"folder": folder.pk, "text": "hello"}
        created = await writer.request("notes", "create", payload=payload)
        assert created["status"] == 201, created
        for subscription in subscriptions:
            event = await subscription.next(timeout=5)
            assert event["action"] == "create"
            assert event["data"] == as_read_by_others(created["data"])

        note_id = created["data"]["id"]
        code = (
            "from tests.realtime.testapp.models import Note\n"
            f"note = Note.objects.get(pk={note_id})\n"
            "note.text = 'edited in a shell'\n"
            "note.save()\n"
        )
        await asyncio.to_thread(run_in_shell, one.env, code)
        for subscription in subscriptions:
            event = await subscription.next(timeout=5)
            assert event["action"] == "update"
            assert event["data"]["text"] == "edited in a shell"


@pytest.fixture
def spare_redis():
    if shutil.which("redis-server") is None:
        reason = "needs the redis-server program to stop and restart a real Redis"
        if running_in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


async def test_redis_outage_degrades_and_recovers(testapp_servers, spare_redis, user):
    """Without Redis requests are answered and writes succeed; events resume after."""
    server = testapp_servers(
        env={
            "REDIS_URL": f"redis://127.0.0.1:{spare_redis.port}/0",
            "REDIS_CHANNEL_LAYER": "pubsub",
        }
    )
    folder = await Folder.objects.acreate(name="Outage", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with (
        live_client(server.url, key) as writer,
        live_client(server.url) as listener,
    ):
        notes = await listener.subscribe("notes", {"folder": folder.pk})
        spare_redis.stop()

        listed = await listener.request("notes", "list")
        assert listed["status"] == 200
        payload = {"folder": folder.pk, "text": "while Redis is down"}
        created = await writer.request("notes", "create", payload=payload)
        assert created["status"] == 201, created
        # The event is published after the response: give it a moment to fail.
        for _attempt in range(50):
            if "Event not delivered: notes create" in server.log():
                break
            await asyncio.sleep(0.1)
        assert "Event not delivered: notes create" in server.log()
        # The process listens to `notes` already; `folders` it must join.
        folders = {"ids": [folder.pk]}
        with pytest.raises(RequestError) as refused:
            await listener.request("folders", "subscribe", payload=folders)
        assert refused.value.status == 503, refused.value.frame

        spare_redis.start()
        # The first subscription to a new stream succeeds once the layer has
        # reconnected (and subscribed again to the streams joined before).
        for _attempt in range(50):
            try:
                await listener.request("folders", "subscribe", payload=folders)
                break
            except RequestError as still_down:
                assert still_down.status == 503, still_down.frame
                await asyncio.sleep(0.2)
        else:
            pytest.fail("Subscriptions did not come back with Redis.")
        payload = {"folder": folder.pk, "text": "Redis is back"}
        created = await writer.request("notes", "create", payload=payload)
        event = await notes.next(timeout=5)
        assert event["data"] == as_read_by_others(created["data"])


async def test_resume_after_a_server_dies_delivers_missed_events_once(
    testapp_servers, user
):
    """A socket dropped by a dying server resumes on another with `since`."""
    one, two = testapp_servers(), testapp_servers()
    folder = await Folder.objects.acreate(name="Resume", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with live_client(two.url, key) as writer:

        async def note(text):
            payload = {"folder": folder.pk, "text": text}
            created = await writer.request("notes", "create", payload=payload)
            assert created["status"] == 201, created
            return as_read_by_others(created["data"])

        reader = await live_client(one.url, reconnect=False).connect()
        seen = await reader.subscribe("notes", {"folder": folder.pk})
        await note("seen")
        since = (await seen.next(timeout=5))["seq"]
        one.stop()  # The reader's server dies: its socket is dropped.
        assert await reader.wait_closed(timeout=5) != 1000
        missed = [await note(f"missed {i}") for i in range(3)]

        async with live_client(two.url) as again:
            resumed = await again.subscribe("notes", {"folder": folder.pk}, since=since)
            assert resumed.response["resumed"] is True, resumed.response
            replayed = [await resumed.next(timeout=5) for _ in missed]
            assert [event["data"] for event in replayed] == missed
            live = await note("live")
            assert (await resumed.next(timeout=5))["data"] == live
            with pytest.raises(TimeoutError):
                await resumed.next(timeout=0.5)
