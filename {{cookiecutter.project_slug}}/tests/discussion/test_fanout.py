"""One group membership per process: many sockets, each event once to each."""

import asyncio

import pytest

from discussion.models import Comment
from realtime_api.registry import get_registry

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sockets_subscribing_at_once_all_hear_every_event(world, user):
    """Concurrent first subscriptions to one group lose no member (a real race
    on Redis, where joining a group awaits the server)."""
    topic = world.public_topic
    sockets = [communicator() for _ in range(20)]
    for socket in sockets:
        await socket.__aenter__()
    try:
        responses = await asyncio.gather(
            *(
                socket.request("comments", "subscribe", payload={"topic": topic.pk})
                for socket in sockets
            )
        )
        assert {response["status"] for response in responses} == {200}
        group = f"comments-topic-{topic.pk}"
        listeners = get_registry().runtime().hub.listeners("comments")
        assert len(listeners.by_group[group]) == 20
        comment = await Comment.objects.acreate(topic=topic, author=user, text="all")
        for socket in sockets:
            event = await socket.receive_event()
            assert event["data"]["id"] == comment.pk
            assert await socket.queue_empty(0.01)
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)
    assert group not in listeners.by_group  # The last to leave left the group.
