"""Several server processes on real Redis: events cross processes, and an
outage of Redis degrades the socket API without breaking it."""

import asyncio
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from discussion.models import Topic
from realtime_api.live_server import LiveClient
from realtime_api.testing import create_session

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def subscribe(client, topic_id):
    response = await client.request(
        "comments", "subscribe", payload={"topic": topic_id}
    )
    assert response["status"] == 200, response


def as_others_see_it(data):
    """What the author's response shows, as a reader who did not write it sees it."""
    return {**data, "can_edit": False}


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
        await LiveClient.connect(one.url, key) as writer,
        await LiveClient.connect(one.url) as near,
        await LiveClient.connect(two.url) as far,
    ):
        await subscribe(near, topic.pk)
        await subscribe(far, topic.pk)
        payload = {"topic": topic.pk, "text": "hello"}
        created = await writer.request("comments", "create", payload=payload)
        assert created["status"] == 201, created
        for client in (near, far):
            event = await client.receive_event()
            assert event["action"] == "create"
            assert event["data"] == as_others_see_it(created["data"])

        comment_id = created["data"]["id"]
        code = (
            "from discussion.models import Comment\n"
            f"comment = Comment.objects.get(pk={comment_id})\n"
            "comment.text = 'edited in a shell'\n"
            "comment.save()\n"
        )
        await asyncio.to_thread(run_in_shell, one.env, code)
        for client in (near, far):
            event = await client.receive_event()
            assert event["action"] == "update"
            assert event["data"]["text"] == "edited in a shell"


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
        await LiveClient.connect(server.url, key) as writer,
        await LiveClient.connect(server.url) as listener,
    ):
        await subscribe(listener, topic.pk)
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
        refused = await listener.request("topics", "subscribe", payload=topics)
        assert refused["status"] == 503, refused

        spare_redis.start()
        # The first subscription to a new stream succeeds once the layer has
        # reconnected (and subscribed again to the streams joined before).
        for _attempt in range(50):
            again = await listener.request("topics", "subscribe", payload=topics)
            if again["status"] == 200:
                break
            await asyncio.sleep(0.2)
        assert again["status"] == 200, again
        payload = {"topic": topic.pk, "text": "Redis is back"}
        created = await writer.request("comments", "create", payload=payload)
        event = await listener.receive_event()
        assert event["data"] == as_others_see_it(created["data"])


async def test_resume_after_a_server_dies_delivers_missed_events_once(
    daphne_servers, user
):
    """A socket dropped by a dying server resumes on another with `since`."""
    one, two = daphne_servers(), daphne_servers()
    topic = await Topic.objects.acreate(title="Resume", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with await LiveClient.connect(two.url, key) as writer:

        async def comment(text):
            payload = {"topic": topic.pk, "text": text}
            created = await writer.request("comments", "create", payload=payload)
            assert created["status"] == 201, created
            return as_others_see_it(created["data"])

        reader = await LiveClient.connect(one.url)
        await subscribe(reader, topic.pk)
        await comment("seen")
        since = (await reader.receive_event())["seq"]
        one.stop()  # The reader's server dies: its socket is dropped.
        assert await reader.close_code() != 1000
        missed = [await comment(f"missed {i}") for i in range(3)]

        async with await LiveClient.connect(two.url) as again:
            response = await again.request(
                "comments", "subscribe", payload={"topic": topic.pk}, since=since
            )
            assert response["resumed"] is True, response
            replayed = [await again.receive_event() for _ in missed]
            assert [event["data"] for event in replayed] == missed
            live = await comment("live")
            assert (await again.receive_event())["data"] == live
            with pytest.raises(TimeoutError):
                await again.receive_event(timeout=0.5)
