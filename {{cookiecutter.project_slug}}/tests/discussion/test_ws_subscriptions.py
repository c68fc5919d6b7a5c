"""PROTOCOL.md's Subscriptions section, and the subscribe/unsubscribe rows of
its Actions table."""

import pytest

from discussion.models import Comment, Topic

from .helpers import communicator
from .streams import extra_application

pytestmark = pytest.mark.django_db(transaction=True)


async def subscribe(ws, stream, payload, action="subscribe"):
    response = await ws.request(stream, action, payload=payload)
    assert response["status"] == 200, response
    return response["data"]


async def edit_comment(comment, text="edited"):
    comment.text = text
    await comment.asave()


async def edit_topic(topic, title="Renamed"):
    topic.title = title
    await topic.asave()


async def test_subscribe_by_serializer_field(world, user):
    """`{"id": pk}` matches one comment, and its changes arrive as events."""
    comment = world.public_comment
    async with communicator(user) as ws:
        data = await subscribe(ws, "comments", {"id": comment.pk})
        assert data == {"detail": "subscribed", "matched": 1}
        await edit_comment(comment)
        event = await ws.receive_event()
        assert (event["stream"], event["action"]) == ("comments", "update")
        assert event["data"]["id"] == comment.pk
        assert event["data"]["text"] == "edited"


async def test_id_subscription_hears_only_that_object(world, user):
    """`{"id": c}` receives that comment's changes and no other's."""
    first, second = world.comments[:2]
    async with communicator(user) as ws:
        await subscribe(ws, "comments", {"id": first.pk})
        await edit_comment(second)
        assert await ws.queue_empty()
        await edit_comment(first)
        assert (await ws.receive_event())["data"]["id"] == first.pk
        assert await ws.queue_empty()


@pytest.mark.parametrize(
    ("payload", "titles"),
    [
        ({"ids": "BOTH"}, {"Apples", "Bananas"}),
        ({"title": "ap"}, {"Apples"}),  # title__istartswith
        ({"title": "APPLES"}, {"Apples"}),
        ({"title": "nothing"}, set()),
        ({"owner": "other"}, {"Bananas"}),  # serializer field, source owner.username
        ({"is_private": False}, {"Apples", "Bananas"}),
        ({"id": ["BOTH"]}, {"Apples", "Bananas"}),  # a list means __in
    ],
)
async def test_subscribe_by_mapping_key_or_field(world, user, payload, titles):
    """Mapping keys (`ids` -> pk__in, `title` -> istartswith) and fields both filter."""
    both = [world.public_topic.pk, world.others_topic.pk]
    payload = {k: both if v in ("BOTH", ["BOTH"]) else v for k, v in payload.items()}
    async with communicator(user) as ws:
        data = await subscribe(ws, "topics", payload)
        assert data["matched"] == len(titles)
        for topic in (world.public_topic, world.private_topic, world.others_topic):
            await edit_topic(topic, f"{topic.title}!")
        heard = {(await ws.receive_event())["data"]["title"] for _ in titles}
        assert heard == {f"{title}!" for title in titles}
        assert await ws.queue_empty()


async def test_mapping_key_wins_over_a_serializer_field(world, user):
    """A mapping key shadows the serializer field of the same name."""
    async with communicator(user, application=extra_application) as ws:
        # "title" is a serializer field (exact match), but the mapping says
        # title__iendswith: only the mapping matches "PLES".
        data = await subscribe(ws, "title-suffix", {"title": "PLES"})
        assert data["matched"] == 1


@pytest.mark.parametrize("payload", [{"nope": 1}, {"id": 1, "nope": 1}])
async def test_unknown_key_is_a_400_naming_it(world, user, payload):
    """A key that is neither a field nor a mapping key is a 400 that names it."""
    async with communicator(user) as ws:
        response = await ws.request("topics", "subscribe", payload=payload)
        assert response["status"] == 400
        assert "'nope'" in response["data"]["detail"]
        assert "ids" in response["data"]["detail"]  # and says what is known
        assert (await ws.request("topics", "list"))["status"] == 200


@pytest.mark.parametrize("action", ["subscribe", "unsubscribe"])
async def test_empty_filter_is_a_400(world, user, action):
    """A subscription needs a filter: an empty payload is a 400."""
    async with communicator(user) as ws:
        for frame in ({}, {"payload": {}}):
            response = await ws.request("topics", action, **frame)
            assert response["status"] == 400
            assert "needs a filter" in response["data"]["detail"]


async def test_invalid_value_is_a_400(world, user):
    """A value the lookup cannot take is a 400, not a 500."""
    async with communicator(user) as ws:
        response = await ws.request("topics", "subscribe", payload={"id": "abc"})
        assert response["status"] == 400
        assert "Invalid subscription filter" in response["data"]["detail"]


async def test_unsubscribe_stops_events(world, user):
    """After `unsubscribe` with the same filter, no event arrives."""
    comment = world.public_comment
    async with communicator(user) as ws:
        await subscribe(ws, "comments", {"id": comment.pk})
        data = await subscribe(ws, "comments", {"id": comment.pk}, "unsubscribe")
        assert data == {"detail": "unsubscribed"}
        await edit_comment(comment)
        assert await ws.queue_empty()


async def test_unsubscribe_keeps_other_subscriptions(world, user):
    """Leaving one of two overlapping subscriptions keeps the other's events."""
    comment = world.public_comment
    async with communicator(user) as ws:
        await subscribe(ws, "comments", {"id": comment.pk})
        await subscribe(ws, "comments", {"topic": world.public_topic.pk})
        await subscribe(ws, "comments", {"id": comment.pk}, "unsubscribe")
        await edit_comment(comment)
        assert (await ws.receive_event())["data"]["id"] == comment.pk
        assert await ws.queue_empty()


async def test_topic_subscription_hears_later_comments(world, user, other):
    """`{"topic": t}` on comments also receives comments created later in t."""
    topic = world.public_topic
    async with communicator(user) as ws:
        data = await subscribe(ws, "comments", {"topic": topic.pk})
        assert data["matched"] == len(world.comments)
        created = await Comment.objects.acreate(topic=topic, author=other, text="new")
        await Comment.objects.acreate(topic=world.others_topic, author=other, text="x")
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", created.pk)
        assert await ws.queue_empty()


async def test_no_events_for_objects_outside_the_queryset(world, user, other):
    """Another user's private topic matches 0 and its comments send nothing.

    A filter on a topic the user may not see is refused exactly like one on a
    topic that does not exist, as `?topic=` is over HTTP.
    """
    private = world.private_topic
    async with communicator(other) as ws:
        hidden = await ws.request(
            "comments", "subscribe", payload={"topic": private.pk}
        )
        missing = await ws.request("comments", "subscribe", payload={"topic": 10**9})
        assert hidden["status"] == missing["status"] == 400
        assert hidden["data"] == {
            "detail": missing["data"]["detail"].replace(str(10**9), str(private.pk))
        }
        by_id = await subscribe(ws, "comments", {"id": world.private_comment.pk})
        topic = await subscribe(ws, "topics", {"ids": [private.pk]})
        assert by_id["matched"] == topic["matched"] == 0
        await Comment.objects.acreate(topic=private, author=user, text="secret")
        await edit_comment(world.private_comment)
        await edit_topic(private)
        assert await ws.queue_empty()


async def test_anonymous_never_hears_of_private_objects(world):
    """An anonymous subscriber matches public objects only."""
    async with communicator(None) as ws:
        data = await subscribe(
            ws, "topics", {"ids": [world.public_topic.pk, world.private_topic.pk]}
        )
        assert data["matched"] == 1
        await edit_topic(world.private_topic)
        assert await ws.queue_empty()
        await edit_topic(world.public_topic)
        assert (await ws.receive_event())["data"]["id"] == world.public_topic.pk


async def test_staff_matches_private_objects(world, admin):
    """Staff see every topic, so they may subscribe to private ones."""
    async with communicator(admin) as ws:
        data = await subscribe(ws, "comments", {"topic": world.private_topic.pk})
        assert data["matched"] == 1
        await edit_comment(world.private_comment)
        assert (await ws.receive_event())["data"]["id"] == world.private_comment.pk


async def test_matched_counts_the_objects_now(world, user):
    """`matched` is how many objects the filter matches for this user now."""
    async with communicator(user) as ws:
        data = await subscribe(ws, "topics", {"is_private": True})
        assert data["matched"] == await Topic.objects.filter(is_private=True).acount()
        data = await subscribe(ws, "comments", {"text": "plum"})
        assert data["matched"] == 1


async def test_subscribing_twice_sends_each_event_once(world, user):
    """The same subscription made twice is one subscription."""
    comment = world.public_comment
    async with communicator(user) as ws:
        await subscribe(ws, "comments", {"id": comment.pk})
        await subscribe(ws, "comments", {"id": comment.pk})
        await edit_comment(comment)
        await ws.receive_event()
        assert await ws.queue_empty()
        # And one unsubscribe ends it.
        await subscribe(ws, "comments", {"id": comment.pk}, "unsubscribe")
        await edit_comment(comment, "again")
        assert await ws.queue_empty()
