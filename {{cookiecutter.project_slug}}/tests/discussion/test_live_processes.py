"""Several server processes on real Redis: events cross processes, and an
outage of Redis degrades the socket API without breaking it."""

import asyncio
import shutil
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from discussion.models import Topic
from realtime_api.client import RequestError
from realtime_api.live_server import free_port, live_client, wait_for_port
from realtime_api.testing import create_session
from tests.conftest import running_in_ci

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def subscribe(client, topic_id, since=None):
    return await client.subscribe("comments", {"topic": topic_id}, since=since)


def as_anyone(comment):
    """A comment without `can_edit`, which is rendered for each receiver."""
    return {key: value for key, value in comment.items() if key != "can_edit"}


def run_in_shell(env, code):
    """Run Python code in a third process: `manage.py shell -c`."""
    manage = str(settings.BASE_DIR / "manage.py")
    subprocess.run([sys.executable, manage, "shell", "-c", code], env=env, check=True)


async def test_changes_reach_subscribers_of_every_process(daphne_servers, user):
    """A change through one server reaches subscribers on both; so does a shell's."""
    one, two = daphne_servers(), daphne_servers()
    topic = await Topic.objects.acreate(title="Shared", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with (
        live_client(one.url, key) as writer,
        live_client(one.url) as near,
        live_client(two.url) as far,
    ):
        subscriptions = [
            await subscribe(near, topic.pk),
            await subscribe(far, topic.pk),
        ]
        payload = {"topic": topic.pk, "text": "hello"}
        created = await writer.request("comments", "create", payload=payload)
        assert created["status"] == 201, created
        for subscription in subscriptions:
            event = await subscription.next(timeout=5)
            assert event["action"] == "create"
            assert as_anyone(event["data"]) == as_anyone(created["data"])

        comment_id = created["data"]["id"]
        code = (
            "from discussion.models import Comment\n"
            f"comment = Comment.objects.get(pk={comment_id})\n"
            "comment.text = 'edited in a shell'\n"
            "comment.save()\n"
        )
        await asyncio.to_thread(run_in_shell, one.env, code)
        for subscription in subscriptions:
            event = await subscription.next(timeout=5)
            assert event["action"] == "update"
            assert event["data"]["text"] == "edited in a shell"


class RedisServer:
    """A throwaway redis-server on a spare port, to stop and start at will."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        assert wait_for_port(self.port, 10, self.process), "redis-server did not start"

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


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


async def test_redis_outage_degrades_and_recovers(daphne_servers, spare_redis, user):
    """Without Redis requests are answered and writes succeed; events resume after."""
    server = daphne_servers(
        env={
            "REDIS_URL": f"redis://127.0.0.1:{spare_redis.port}/0",
            "REDIS_CHANNEL_LAYER": "pubsub",
        }
    )
    topic = await Topic.objects.acreate(title="Outage", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with (
        live_client(server.url, key) as writer,
        live_client(server.url) as listener,
    ):
        comments = await subscribe(listener, topic.pk)
        spare_redis.stop()

        listed = await listener.request("comments", "list")
        assert listed["status"] == 200
        payload = {"topic": topic.pk, "text": "while Redis is down"}
        created = await writer.request("comments", "create", payload=payload)
        assert created["status"] == 201, created
        # The event is published after the response: give it a moment to fail.
        for _attempt in range(50):
            if "Event not delivered: comments create" in server.log():
                break
            await asyncio.sleep(0.1)
        assert "Event not delivered: comments create" in server.log()
        # The process listens to `comments` already; `topics` it must join.
        topics = {"ids": [topic.pk]}
        with pytest.raises(RequestError) as refused:
            await listener.request("topics", "subscribe", payload=topics)
        assert refused.value.status == 503, refused.value.frame

        spare_redis.start()
        # The first subscription to a new stream succeeds once the layer has
        # reconnected (and subscribed again to the streams joined before).
        for _attempt in range(50):
            try:
                await listener.request("topics", "subscribe", payload=topics)
                break
            except RequestError as still_down:
                assert still_down.status == 503, still_down.frame
                await asyncio.sleep(0.2)
        else:
            pytest.fail("Subscriptions did not come back with Redis.")
        payload = {"topic": topic.pk, "text": "Redis is back"}
        created = await writer.request("comments", "create", payload=payload)
        event = await comments.next(timeout=5)
        assert as_anyone(event["data"]) == as_anyone(created["data"])


async def test_resume_after_a_server_dies_delivers_missed_events_once(
    daphne_servers, user
):
    """A socket dropped by a dying server resumes on another with `since`."""
    one, two = daphne_servers(), daphne_servers()
    topic = await Topic.objects.acreate(title="Resume", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with live_client(two.url, key) as writer:

        async def comment(text):
            payload = {"topic": topic.pk, "text": text}
            created = await writer.request("comments", "create", payload=payload)
            assert created["status"] == 201, created
            return created["data"]

        reader = await live_client(one.url, reconnect=False).connect()
        seen = await subscribe(reader, topic.pk)
        await comment("seen")
        since = (await seen.next(timeout=5))["seq"]
        one.stop()  # The reader's server dies: its socket is dropped.
        assert await reader.wait_closed(timeout=5) != 1000
        missed = [await comment(f"missed {i}") for i in range(3)]

        async with live_client(two.url) as again:
            resumed = await subscribe(again, topic.pk, since=since)
            assert resumed.response["resumed"] is True, resumed.response
            replayed = [await resumed.next(timeout=5) for _ in missed]
            assert [as_anyone(e["data"]) for e in replayed] == list(
                map(as_anyone, missed)
            )
            live = await comment("live")
            assert as_anyone((await resumed.next(timeout=5))["data"]) == as_anyone(live)
            with pytest.raises(TimeoutError):
                await resumed.next(timeout=0.5)
