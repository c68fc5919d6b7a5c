"""The protocol against a real daphne server, with a real WebSocket client.

One daphne process on the test database serving the test app
(`testapp_server`, see conftest.py): its in-memory channel layer serves both
sockets.
"""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from realtime_api.client import origin_of
from realtime_api.testing import create_session

from .testapp.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)

SAME = "same-origin"  # The server's own origin, as a page it served.


def connect(server, session_key=None, origin=SAME, path="/ws/"):
    if origin == SAME:
        origin = origin_of(server.url)
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


async def test_created_folder_reaches_a_subscriber_over_real_sockets(
    testapp_server, user
):
    """Over real daphne: create a folder on one socket, hear its notes on another."""
    key = await database_sync_to_async(create_session)(user)
    async with (
        connect(testapp_server, key) as writer,
        connect(testapp_server) as reader,
    ):
        created = await request(writer, "folders/create/", {"name": "Live"}, "c1")
        assert (created["status"], created["request_id"]) == (201, "c1"), created
        folder_id = created["data"]["id"]
        assert await Folder.objects.filter(pk=folder_id, owner=user).aexists()

        subscribed = await request(reader, "notes/subscribe/", {"folder": folder_id})
        assert subscribed["data"] == {"detail": "subscribed", "matched": 0}
        subscribed = await request(reader, "folders/subscribe/", {"id": folder_id})
        assert subscribed["data"] == {"detail": "subscribed", "matched": 1}

        payload = {"folder": folder_id, "text": "hello"}
        note = await request(writer, "notes/create/", payload, "c2")
        assert note["status"] == 201, note
        event = await receive(reader)
        assert event == {
            "type": "event",
            "stream": "notes",
            "action": "create",
            "seq": event["seq"],
            "data": {**note["data"], "can_edit": False},  # As the reader sees it.
        }

        renamed = await request(
            writer, f"folders/update/{folder_id}/", {"name": "Live!"}
        )
        event = await receive(reader)
        expected = {**renamed["data"], "can_edit": False}
        assert (event["action"], event["data"]) == ("update", expected)


async def test_real_handshake_without_allowed_origin_is_http_403(testapp_server):
    """Over real daphne, a handshake with no or a foreign Origin gets HTTP 403."""
    # One server for both cases: starting daphne is the slow part.
    for origin in (None, "http://evil.example"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(testapp_server, origin=origin):
                pass
        assert refused.value.response.status_code == 403, origin
