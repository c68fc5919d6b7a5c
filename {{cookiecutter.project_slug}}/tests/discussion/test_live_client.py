"""The Python client (realtime_api/client/) against a real daphne."""

import asyncio
import json
import os
import sys

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from discussion.models import Topic
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.client import RequestError
from realtime_api.testing import create_session, create_token, create_user
from realtime_api.testing.live_server import live_client
from tests.realtime.helpers import log_out_over_http

pytestmark = pytest.mark.django_db(transaction=True)


async def comment(client, topic, text):
    created = await client.request(
        "comments", "create", payload={"topic": topic.pk, "text": text}
    )
    return created["data"]


async def test_errors_raise_with_the_status_and_the_body(daphne_server, user):
    """A refused request raises RequestError carrying what HTTP would answer."""
    topic = await Topic.objects.acreate(title="Errors", owner=user)
    async with live_client(daphne_server.url, token=await create_token(user)) as client:
        with pytest.raises(RequestError) as invalid:
            await client.request("comments", "create", payload={"topic": topic.pk})
        assert invalid.value.status == 400
        assert invalid.value.data == {"text": ["This field is required."]}
        with pytest.raises(RequestError) as missing:
            await client.request("topics", "retrieve", lookup=999999)
        assert missing.value.status == 404
        with pytest.raises(RequestError) as refused:
            await client.subscribe("comments", {"nope": 1})
        assert refused.value.status == 400
        assert "nope" in refused.value.data["detail"]


async def test_watch_keeps_an_ordered_live_list(daphne_server, user):
    """enter, update and leave keep `items` equal to what `list` answers."""
    topic = await Topic.objects.acreate(title="Live", owner=user)
    params = {"topic": topic.pk, "ordering": "-created"}
    async with (
        live_client(daphne_server.url, token=await create_token(user)) as client,
        live_client(
            daphne_server.url, token=await create_token(await create_user())
        ) as reader,
    ):
        first = await comment(client, topic, "first")
        live = await reader.watch("comments", params)
        assert [item["id"] for item in live.items] == [first["id"]]
        second = await comment(client, topic, "second")
        # A change is evaluated when it is heard, against the database of
        # then: wait for the enter, or a delete already done could hide it.
        changes = [await live.next(timeout=5)]
        await client.request("comments", "update", first["id"], {"text": "edited"})
        await client.request("comments", "delete", second["id"])
        changes += [await live.next(timeout=5) for _ in range(2)]
        assert [(c.action, c.item["id"]) for c in changes] == [
            ("enter", second["id"]),
            ("update", first["id"]),
            ("leave", second["id"]),
        ]
        assert changes[0].index == 0  # Newest first.
        assert changes[1].previous["text"] == "first"
        listed = await reader.request("comments", "list", payload=params)
        assert live.items == listed["data"]["results"]
        # The topic made private: its comments leave the other user's query.
        await client.request("topics", "update", topic.pk, {"is_private": True})
        left = await live.next(timeout=5)
        assert (left.action, left.item["id"], live.items) == ("leave", first["id"], [])


async def test_a_subscription_resumes_after_a_close_without_gap_or_duplicate(
    daphne_server, user
):
    """Closed with 4001 (its session logged out elsewhere), the client
    reconnects, resumes with `since`, and hears every change once, in order."""
    topic = await Topic.objects.acreate(title="Resume", owner=user)
    session_key = await database_sync_to_async(create_session)(user)
    frames, states = [], []
    reconnecting = asyncio.Event()

    def on_state_change(state, info):
        states.append((state, info["code"]))
        if state == "reconnecting":
            reconnecting.set()

    options = {
        "min_delay": 1.0,  # Time enough to write while it is away.
        "on_state_change": on_state_change,
        "trace": lambda direction, text: frames.append((direction, text)),
    }
    resets = []
    async with (
        live_client(daphne_server.url, session_key, **options) as client,
        live_client(daphne_server.url, token=await create_token(user)) as writer,
    ):
        subscription = await client.subscribe(
            "comments", {"topic": topic.pk}, on_reset=resets.append
        )
        before = await comment(writer, topic, "before")
        assert (await subscription.next(timeout=5))["data"]["id"] == before["id"]
        await asyncio.to_thread(log_out_over_http, daphne_server, session_key)
        await asyncio.wait_for(reconnecting.wait(), 5)
        missed = [await comment(writer, topic, f"missed {n}") for n in range(3)]
        heard = [(await subscription.next(timeout=10))["data"] for _ in missed]
        assert [c["id"] for c in heard] == [c["id"] for c in missed]
        after = await comment(writer, topic, "after")
        assert (await subscription.next(timeout=5))["data"]["id"] == after["id"]
        with pytest.raises(TimeoutError):
            await subscription.next(timeout=0.3)
    assert ("reconnecting", CLOSE_CODE) in states
    assert resets == []
    sent = [json.loads(text) for direction, text in frames if direction == "send"]
    resubscribe = [frame for frame in sent if "since" in frame]
    assert len(resubscribe) == 1
    received = [
        json.loads(text) for direction, text in frames if direction == "receive"
    ]
    request_id = resubscribe[0]["request_id"]
    answer = next(f for f in received if f.get("request_id") == request_id)
    assert answer["resumed"] is True
    # The new socket is anonymous now: the missed comments render as such.
    assert not any(event["can_edit"] for event in heard)


async def test_every_subscription_of_a_stream_resumes_from_the_same_seq(
    daphne_server, user
):
    """Two subscriptions of one stream: after a reconnect both are sent again
    with the seq seen before it, so the first one's replay, read while the
    second is sent, cannot make the second skip what it missed."""
    topics = [await Topic.objects.acreate(title=t, owner=user) for t in "AB"]
    session_key = await database_sync_to_async(create_session)(user)
    frames = []
    reconnecting = asyncio.Event()
    options = {
        "min_delay": 1.0,
        "on_state_change": lambda state, info: (
            state == "reconnecting" and reconnecting.set()
        ),
        "trace": lambda direction, text: frames.append((direction, text)),
    }
    async with (
        live_client(daphne_server.url, session_key, **options) as client,
        live_client(daphne_server.url, token=await create_token(user)) as writer,
    ):
        subscriptions = [
            await client.subscribe("comments", {"topic": topic.pk}) for topic in topics
        ]
        await comment(writer, topics[0], "seen")
        seen = await subscriptions[0].next(timeout=5)
        await asyncio.to_thread(log_out_over_http, daphne_server, session_key)
        await asyncio.wait_for(reconnecting.wait(), 5)
        missed = [await comment(writer, topic, "missed") for topic in topics]
        # Each handle of a stream sees every event of the stream's socket.
        heard = [await subscriptions[0].next(timeout=10) for _ in missed]
        assert {e["data"]["id"] for e in heard} == {c["id"] for c in missed}
    sent = [json.loads(text) for direction, text in frames if direction == "send"]
    assert [frame["since"] for frame in sent if "since" in frame] == [seen["seq"]] * 2


async def test_the_command_prints_live_changes(daphne_server, user):
    """python -m realtime_api.client URL --token T comments watch '{"topic": N}'."""
    topic = await Topic.objects.acreate(title="Command", owner=user)
    key = await create_token(user)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_api.client",
        f"{daphne_server.url}/ws/",
        "--token",
        key,
        "comments",
        "watch",
        json.dumps({"topic": topic.pk}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=settings.BASE_DIR,
        env=os.environ,
    )
    try:
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))
        assert first == {"action": "snapshot", "items": []}
        async with live_client(daphne_server.url, token=key) as client:
            created = await comment(client, topic, "printed")
            line = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
            assert line == {"action": "enter", "data": created, "index": 0}
            await client.request("comments", "delete", created["id"])
            line = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
            assert line["action"] == "leave"
            assert line["data"]["id"] == created["id"]
    finally:
        process.terminate()
        await process.wait()


async def test_the_command_reports_a_refused_request(daphne_server, user):
    """A request the server refuses: its status and body on stderr, exit code 1."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_api.client",
        f"{daphne_server.url}/ws/",
        "--token",
        await create_token(user),
        "comments",
        "create",
        "{}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=settings.BASE_DIR,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1
    assert b"answered 400" in err
    assert b"This field is required." in err


async def test_the_client_calls_the_view_s_extra_actions(daphne_server, user, admin):
    """`close` and `mine` over a real socket; another user's close is refused."""
    topic = await Topic.objects.acreate(title="Extra", owner=user)
    async with (
        live_client(daphne_server.url, token=await create_token(user)) as client,
        live_client(daphne_server.url, token=await create_token(admin)) as staff,
    ):
        closed = await client.request("topics", "close", topic.pk, method="post")
        assert closed["data"]["closed"] is True
        mine = await client.request("topics", "mine")
        assert [t["id"] for t in mine["data"]["results"]] == [topic.pk]
        with pytest.raises(RequestError) as refused:
            await staff.request("topics", "close", topic.pk)
        assert refused.value.status == 403
        assert refused.value.data == {"detail": "Only the topic's owner may close it."}
        with pytest.raises(RequestError) as late:
            await comment(client, topic, "too late")
        assert late.value.status == 400


async def test_the_command_calls_an_extra_action(daphne_server, user):
    """python -m realtime_api.client URL --token T topics close --lookup N."""
    topic = await Topic.objects.acreate(title="Command close", owner=user)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "realtime_api.client",
        f"{daphne_server.url}/ws/",
        "--token",
        await create_token(user),
        "topics",
        "close",
        "--lookup",
        str(topic.pk),
        "--method",
        "post",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=settings.BASE_DIR,
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err
    assert json.loads(out)["closed"] is True
    assert (await Topic.objects.aget(pk=topic.pk)).closed
