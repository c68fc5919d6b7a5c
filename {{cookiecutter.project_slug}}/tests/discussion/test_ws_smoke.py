import pytest

from config.asgi import application
from discussion.models import Topic
from realtime_api.testing import AuthWebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_create_and_event(user):
    async with AuthWebsocketCommunicator(application, "/ws/", user=user) as ws:
        r = await ws.request("topics", "create", payload={"title": "Hello"})
        assert r["status"] == 201, r
        topic_id = r["data"]["id"]
        r = await ws.request("comments", "subscribe", payload={"topic": topic_id})
        assert r["status"] == 200, r
        r = await ws.request(
            "comments", "create", payload={"topic": topic_id, "text": "hi"}
        )
        assert r["status"] == 201, r
        ev = await ws.receive_event()
        assert ev["action"] == "create" and ev["data"] == r["data"], ev
        r = await ws.request("comments", "list", payload={"topic": topic_id})
        assert r["status"] == 200 and r["data"]["count"] == 1, r
        r = await ws.request("comments", "options")
        assert r["data"]["name"] == "Comment List", r
        assert await Topic.objects.acount() == 1
