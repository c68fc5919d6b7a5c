"""The README's testing example, kept here so that it stays true."""

import pytest

from config.asgi import application
from realtime_api.testing import AuthWebsocketCommunicator, create_user, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_subscriber_hears_of_a_new_comment(user):
    """Another user subscribed to a topic hears of a comment created in it."""
    other = await create_user(first_name="Alex")  # password "pw"
    async with (
        AuthWebsocketCommunicator(application, "/ws/", user=user) as mine,
        AuthWebsocketCommunicator(application, "/ws/", user=other) as theirs,
    ):
        topic = await mine.request("topics", "create", payload={"title": "Hi"})
        topic_id = topic["data"]["id"]
        await subscribe(theirs, "comments", {"topic": topic_id})
        await mine.request(
            "comments", "create", payload={"topic": topic_id, "text": "yo"}
        )
        event = await theirs.receive_event()
        assert event["action"] == "create"
