"""The sample's streams (discussion/streams.py): which changes reach whom.

How subscriptions, events and their authorization work is tested on the
framework's test app (tests/realtime/); these tests check the sample's own
rules: its groups and mapping keys, what decides a comment's visibility, and
a field rendered for each receiver. The topic groups the demo page relies on
are in test_demo_page.py.
"""

import pytest

from discussion.models import Comment
from realtime_api.testing import events_until_quiet, subscribe, watch

from .helpers import communicator, save

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_topic_subscription_hears_of_later_comments_in_that_topic(
    world, user, other
):
    """`{"topic": t}` hears of comments created in t later, not elsewhere."""
    topic = world.public_topic
    async with communicator(other) as ws:
        response = await subscribe(ws, "comments", {"topic": topic.pk})
        assert response["data"]["matched"] == len(world.comments)
        await Comment.objects.acreate(topic=world.others_topic, author=other, text="x")
        created = await Comment.objects.acreate(topic=topic, author=user, text="new")
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", created.pk)
        assert await ws.queue_empty()


async def test_a_hidden_topic_is_refused_like_a_missing_one(world, other):
    """`{"topic": <a private topic of another user>}` is the 400 of a missing topic."""
    private = world.private_topic.pk
    async with communicator(other) as ws:
        hidden = await ws.request("comments", "subscribe", payload={"topic": private})
        missing = await ws.request("comments", "subscribe", payload={"topic": 10**9})
    assert hidden["status"] == missing["status"] == 400
    detail = missing["data"]["detail"].replace(str(10**9), str(private))
    assert hidden["data"] == {"detail": detail}


@pytest.mark.parametrize(
    ("payload", "titles"),
    [
        ({"ids": "BOTH"}, {"Apples", "Bananas"}),
        ({"title": "ap"}, {"Apples"}),  # title__istartswith
        ({"title": "Secrets"}, set()),  # Another user's private topic.
    ],
)
async def test_topic_mapping_keys(world, other, payload, titles):
    """`ids` (pk__in) and `title` (starts with, any case) filter what one sees."""
    both = [world.public_topic.pk, world.others_topic.pk]
    payload = {k: both if v == "BOTH" else v for k, v in payload.items()}
    async with communicator(other) as ws:
        response = await subscribe(ws, "topics", payload)
        assert response["data"]["matched"] == len(titles)
        for topic in (world.public_topic, world.private_topic, world.others_topic):
            await save(topic, title=f"{topic.title}!")
        heard = {event["data"]["title"] for event in await events_until_quiet(ws)}
        assert heard == {f"{title}!" for title in titles}


async def test_a_topic_made_private_takes_its_comments_from_other_users(
    world, user, other
):
    """A comment is visible when its topic is: they leave with it."""
    async with communicator(other) as theirs, communicator(user) as owners:
        for ws in (theirs, owners):
            await subscribe(ws, "comments", {"topic": world.public_topic.pk})
        await save(world.public_topic, is_private=True)
        left = await events_until_quiet(theirs)
        assert {e["action"] for e in left} == {"leave"}
        assert {e["data"]["id"] for e in left} == {c.pk for c in world.comments}
        assert await owners.queue_empty()


async def test_a_topic_given_to_another_user_shows_them_its_comments(
    world, user, other
):
    """The topic's owner decides who sees its comments: a new owner's watch
    gets them as they enter."""
    async with communicator(other) as theirs:
        await watch(theirs, "comments", {"search": "secret"})
        await save(world.private_topic, owner=other)
        (entered,) = await events_until_quiet(theirs)
        assert (entered["action"], entered["data"]["id"]) == (
            "enter",
            world.private_comment.pk,
        )


async def test_can_edit_is_rendered_for_each_receiver(world, user, other):
    """One change: its author's event says `can_edit` true, another user's false."""
    comment = world.public_comment
    async with communicator(user) as mine, communicator(other) as theirs:
        for ws in (mine, theirs):
            await subscribe(ws, "comments", {"id": comment.pk})
        await save(comment, text="edited")
        assert (await mine.receive_event())["data"]["can_edit"] is True
        assert (await theirs.receive_event())["data"]["can_edit"] is False
