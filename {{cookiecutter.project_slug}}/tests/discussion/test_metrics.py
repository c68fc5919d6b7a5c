"""/metrics on the sample streams: subscriptions, watches and events move
as sockets subscribe, watch, receive and leave."""

import pytest
from asgiref.sync import sync_to_async

from tests.prometheus import value
from tests.realtime.test_metrics import TOKEN, scrape

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_subscriptions_watches_and_events(settings, world, user, other):
    settings.REALTIME_API_METRICS_TOKEN = TOKEN

    async def read():
        return await sync_to_async(scrape)(Authorization=f"Bearer {TOKEN}")

    before = await read()

    def moved(samples, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    topic = world.public_topic.pk
    async with communicator(user) as writer, communicator(other) as reader:
        response = await reader.request(
            "comments", "subscribe", payload={"topic": topic}
        )
        assert response["status"] == 200
        response = await reader.request("comments", "watch", payload={"topic": topic})
        assert response["status"] == 200
        payload = {"topic": topic, "text": "counted"}
        created = await writer.request("comments", "create", payload=payload)
        assert created["status"] == 201
        events = [await reader.receive_event() for _ in range(2)]
        assert {event.get("watch") is None for event in events} == {True, False}
        during = await read()
        assert moved(during, "realtime_subscriptions", stream="comments") == 1
        assert moved(during, "realtime_watches", stream="comments") == 1
        published = "realtime_events_published_total"
        assert moved(during, published, stream="comments") == 1
        delivered = "realtime_events_delivered_total"
        assert moved(during, delivered, stream="comments") == 2  # Subscription, watch.
        dropped = "realtime_events_dropped_total"
        assert moved(during, dropped, stream="comments", stage="publish") == 0

        await reader.request("comments", "unwatch", payload={"watch": "w1"})
        assert moved(await read(), "realtime_watches", stream="comments") == 0
    after = await read()
    assert moved(after, "realtime_subscriptions", stream="comments") == 0
    assert moved(after, "realtime_websocket_connections") == 0
