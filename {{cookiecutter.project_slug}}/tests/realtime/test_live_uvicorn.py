"""uvicorn, the alternative server: the same socket API on a real uvicorn process."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from realtime_api.testing import create_session
from realtime_api.testing.live_server import UvicornServer, http_get, live_client

from .conftest import SERVER_ENV
from .testapp.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def uvicorn_server(transactional_db):
    server = UvicornServer(env=SERVER_ENV).start()
    yield server
    server.stop()


async def test_requests_and_events_over_uvicorn(uvicorn_server, user):
    """A create is answered, and a subscriber of another socket hears of it."""
    folder = await Folder.objects.acreate(name="Served", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with (
        live_client(uvicorn_server.url, key) as writer,
        live_client(uvicorn_server.url) as reader,
    ):
        subscription = await reader.subscribe("notes", {"folder": folder.pk})
        payload = {"folder": folder.pk, "text": "served by uvicorn"}
        created = await writer.request("notes", "create", payload=payload)
        assert created["status"] == 201, created
        event = await subscription.next(timeout=5)
        assert event["action"] == "create"
        assert event["data"]["id"] == created["data"]["id"]
    http_url = uvicorn_server.url.replace("ws://", "http://")
    response = await asyncio.to_thread(http_get, f"{http_url}/api/notes/")
    assert response.status == 200
    assert [note["id"] for note in response.json()["results"]] == [event["data"]["id"]]
