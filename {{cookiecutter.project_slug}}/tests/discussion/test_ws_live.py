"""The protocol against a real daphne server, with a real WebSocket client.

One daphne process on the test database (`daphne_server` from
realtime_api.pytest_plugin): its in-memory channel layer serves both sockets.
"""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from discussion.models import Topic
from realtime_api.testing import create_session

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost"


def connect(server, session_key=None, origin=ORIGIN, path="/ws/"):
    headers = {}
    if session_key:
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    return websockets.connect(
        server.url + path, origin=origin, additional_headers=headers, open_timeout=10
    )


async def receive(ws):
    """The next frame, decoded; bounded so a silent server fails the test."""
    async with asyncio.timeout(10):
        return json.loads(await ws.recv())


async def request(ws, stream, payload=None, request_id="r"):
    frame = {"stream": stream, "payload": payload or {}, "request_id": request_id}
    await ws.send(json.dumps(frame))
    return await receive(ws)


async def test_created_topic_reaches_a_subscriber_over_real_sockets(
    daphne_server, user
):
    """Over real daphne: create a topic on one socket, hear its comments on another."""
    key = await database_sync_to_async(create_session)(user)
    async with connect(daphne_server, key) as writer, connect(daphne_server) as reader:
        created = await request(writer, "topics/create/", {"title": "Live"}, "c1")
        assert (created["status"], created["request_id"]) == (201, "c1"), created
        topic_id = created["data"]["id"]
        assert await Topic.objects.filter(pk=topic_id, owner=user).aexists()

        subscribed = await request(reader, "comments/subscribe/", {"topic": topic_id})
        assert subscribed["data"] == {"detail": "subscribed", "matched": 0}
        subscribed = await request(reader, "topics/subscribe/", {"id": topic_id})
        assert subscribed["data"] == {"detail": "subscribed", "matched": 1}

        payload = {"topic": topic_id, "text": "hello"}
        comment = await request(writer, "comments/create/", payload, "c2")
        assert comment["status"] == 201, comment
        event = await receive(reader)
        assert event == {
            "type": "event",
            "stream": "comments",
            "action": "create",
            "seq": event["seq"],
            "data": {**comment["data"], "can_edit": False},  # As the reader sees it.
        }

        renamed = await request(
            writer, f"topics/update/{topic_id}/", {"title": "Live!"}
        )
        event = await receive(reader)
        expected = {**renamed["data"], "can_edit": False}
        assert (event["action"], event["data"]) == ("update", expected)


async def test_real_handshake_without_allowed_origin_is_http_403(daphne_server):
    """Over real daphne, a handshake with no or a foreign Origin gets HTTP 403."""
    # One server for both cases: starting daphne is the slow part.
    for origin in (None, "http://evil.example"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(daphne_server, origin=origin):
                pass
        assert refused.value.response.status_code == 403, origin
