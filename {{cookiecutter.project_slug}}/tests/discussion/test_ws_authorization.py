"""PROTOCOL.md v1.1: every event is authorized for its receiver when delivered.

What a user could see when subscribing grants nothing later: each test takes
the part of the user who should stop seeing something, and checks the frames
they get against what HTTP lets them retrieve at that moment.
"""

import pytest
from channels.db import database_sync_to_async

from discussion.models import Comment, Topic

from .helpers import communicator, http_twin

pytestmark = pytest.mark.django_db(transaction=True)


async def subscribe(ws, stream, payload, **extra):
    response = await ws.request(stream, "subscribe", payload=payload, **extra)
    assert response["status"] == 200, response
    return response


async def save(obj, **changes):
    for name, value in changes.items():
        setattr(obj, name, value)
    await obj.asave()


async def events_until_quiet(ws, wait=0.3):
    """Every event frame that arrives before `wait` seconds of silence."""
    events = []
    while not await ws.queue_empty(wait):
        events.append(await ws.receive_event())
    return events


async def test_a_topic_made_private_stops_every_subscription_of_another_user(
    world, user, other
):
    """The reported leak: after a topic turns private, another user's
    subscriptions (by topic, by ids, by `is_private`) get `leave` once and then
    nothing, not the new comment nor the new title."""
    topic = world.public_topic
    async with communicator(other) as theirs:
        await subscribe(theirs, "comments", {"topic": topic.pk})
        await subscribe(theirs, "topics", {"ids": [topic.pk]})
        await subscribe(theirs, "topics", {"is_private": False})

        await save(topic, is_private=True)
        left = await events_until_quiet(theirs)
        assert {(e["stream"], e["action"]) for e in left} == {
            ("topics", "leave"),
            ("comments", "leave"),
        }
        assert [e["data"] for e in left if e["stream"] == "topics"] == [
            {"id": topic.pk}
        ]
        comment_leaves = sorted(
            e["data"]["id"] for e in left if e["stream"] == "comments"
        )
        assert comment_leaves == sorted(c.pk for c in world.comments)
        assert all(set(e["data"]) == {"id"} for e in left)

        await Comment.objects.acreate(topic=topic, author=user, text="private now")
        await save(topic, title="Secret title")
        await save(world.public_comment, text="secret edit")
        assert await theirs.queue_empty(0.3)
        status, _ = await http_twin(other, "topics", "retrieve", topic.pk)
        assert status == 404


async def test_the_owner_keeps_hearing_of_their_private_topic(world, user):
    """The same change that hides a topic from others is an update for its owner."""
    topic = world.public_topic
    async with communicator(user) as mine:
        await subscribe(mine, "topics", {"ids": [topic.pk]})
        await subscribe(mine, "comments", {"topic": topic.pk})
        await save(topic, is_private=True)
        event = await mine.receive_event()
        assert (event["action"], event["data"]["is_private"]) == ("update", True)
        assert await mine.queue_empty(0.3)  # Its comments stay visible to them.
        comment = await Comment.objects.acreate(topic=topic, author=user, text="mine")
        event = await mine.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", comment.pk)


async def test_a_topic_made_public_again_is_heard_of_again(world, user, other):
    """`leave` lasts until the object may be seen again: then events resume."""
    topic = world.public_topic
    async with communicator(other) as theirs:
        await subscribe(theirs, "comments", {"topic": topic.pk})
        await save(topic, is_private=True)
        await events_until_quiet(theirs)
        await save(topic, is_private=False)
        assert await theirs.queue_empty(0.3)  # Subscriptions are not watches.
        comment = await Comment.objects.acreate(topic=topic, author=user, text="back")
        event = await theirs.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", comment.pk)


async def test_a_comment_moved_to_another_topic_leaves_the_old_topics_subscribers(
    world, user, other
):
    """Moving a comment announces `leave` to the old topic's subscribers; the
    new topic's subscribers who may see it get the update; others nothing."""
    comment = world.public_comment
    private = world.private_topic
    async with (
        communicator(other) as theirs,
        communicator(user) as old_topic,
        communicator(user) as new_topic,
    ):
        await subscribe(theirs, "comments", {"topic": world.public_topic.pk})
        await subscribe(old_topic, "comments", {"topic": world.public_topic.pk})
        await subscribe(new_topic, "comments", {"topic": private.pk})
        await save(comment, topic=private)
        for ws in (theirs, old_topic):
            event = await ws.receive_event()
            assert (event["action"], event["data"]) == ("leave", {"id": comment.pk})
            assert await ws.queue_empty(0.2)
        moved = await new_topic.receive_event()
        assert (moved["action"], moved["data"]["topic"]) == ("update", private.pk)
        await save(comment, text="after the move")
        assert await theirs.queue_empty(0.3)
        assert await old_topic.queue_empty(0.1)
        assert (await new_topic.receive_event())["data"]["text"] == "after the move"


async def test_a_comment_moved_by_id_subscription_follows_the_object(world, user):
    """A subscription by id follows the object wherever it moves, while visible."""
    comment = world.public_comment
    async with communicator(user) as ws:
        await subscribe(ws, "comments", {"id": comment.pk})
        await save(comment, topic=world.private_topic)
        event = await ws.receive_event()
        assert (event["action"], event["data"]["topic"]) == (
            "update",
            world.private_topic.pk,
        )


async def test_deletes_reach_only_sockets_that_were_told_of_the_object(
    world, user, other
):
    """A comment created and deleted while hidden: its id reaches nobody else."""
    topic = world.public_topic
    async with communicator(other) as theirs:
        await subscribe(theirs, "comments", {"topic": topic.pk})
        await save(topic, is_private=True)
        await events_until_quiet(theirs)
        secret = await Comment.objects.acreate(topic=topic, author=user, text="x")
        await secret.adelete()
        await world.public_comment.adelete()  # Told to leave already.
        assert await theirs.queue_empty(0.3)


async def test_events_are_rendered_for_each_receiver(world, user, other, admin):
    """One change, three users: each gets the object as they would retrieve it."""
    comment = world.public_comment
    sockets = {}
    async with (
        communicator(user) as sockets["author"],
        communicator(other) as sockets["other"],
        communicator(admin) as sockets["staff"],
        communicator() as sockets["anonymous"],
    ):
        for ws in sockets.values():
            await subscribe(ws, "comments", {"topic": world.public_topic.pk})
        await save(comment, text="rendered per user")
        users = {"author": user, "other": other, "staff": admin, "anonymous": None}
        for role, ws in sockets.items():
            event = await ws.receive_event()
            _, body = await http_twin(users[role], "comments", "retrieve", comment.pk)
            assert event["data"] == body, role
            assert event["data"]["can_edit"] is (role == "author")


async def test_a_replay_sends_what_the_user_may_see_now(world, user, other):
    """`since` after a reconnect: each missed object as the user sees it now;
    one moved out of sight arrives as `leave`; one created and deleted
    meanwhile not at all."""
    topic = world.public_topic
    edited, moved = world.comments[1], world.comments[2]
    async with communicator(other) as theirs:
        await subscribe(theirs, "comments", {"topic": topic.pk})
        await save(world.public_comment, text="seen")
        since = (await theirs.receive_event())["seq"]
    await save(edited, text="missed")
    await save(moved, topic=world.private_topic, text="moved out of sight")
    gone = await Comment.objects.acreate(topic=topic, author=user, text="gone")
    await gone.adelete()
    async with communicator(other) as theirs:
        response = await subscribe(theirs, "comments", {"topic": topic.pk}, since=since)
        assert response["resumed"] is True
        replayed = await events_until_quiet(theirs)
    _, now = await http_twin(other, "comments", "retrieve", edited.pk)
    assert [(e["action"], e["data"]) for e in replayed] == [
        ("update", now),
        ("leave", {"id": moved.pk}),
    ]


async def test_a_hidden_topic_cannot_be_resumed_into(world, user, other):
    """After the topic turned private, subscribing to it again is refused like a
    missing topic, and an id subscription to its comment matches nothing."""
    topic = world.public_topic
    async with communicator(other) as theirs:
        await subscribe(theirs, "comments", {"topic": topic.pk})
        await save(world.public_comment, text="seen")
        since = (await theirs.receive_event())["seq"]
    await save(topic, is_private=True)
    await save(world.public_comment, text="secret")
    async with communicator(other) as theirs:
        response = await theirs.request(
            "comments", "subscribe", payload={"topic": topic.pk}, since=since
        )
        assert response["status"] == 400
        by_id = {"id": world.public_comment.pk}
        response = await subscribe(theirs, "comments", by_id, since=since)
        assert (response["resumed"], response["data"]["matched"]) == (True, 0)
        assert await theirs.queue_empty(0.3)


async def test_an_http_write_is_authorized_like_a_socket_write(world, user, other):
    """Changes made over HTTP or in a shell follow the same rule."""
    topic = world.public_topic
    async with communicator(other) as theirs:
        await subscribe(theirs, "topics", {"is_private": False})
        status, _ = await http_twin(
            user, "topics", "update", topic.pk, {"is_private": True}
        )
        assert status == 200
        event = await theirs.receive_event()
        assert (event["action"], event["data"]) == ("leave", {"id": topic.pk})

        await database_sync_to_async(Topic.objects.filter(pk=topic.pk).update)(
            title="bulk, no signal"
        )
        assert await theirs.queue_empty(0.2)


async def watch(ws, stream, payload):
    response = await ws.request(stream, "watch", payload=payload)
    assert response["status"] == 200, response
    return response


@pytest.mark.parametrize("query", [{"search": "apple"}, "topic"])
async def test_a_topic_made_private_updates_another_users_comments_watch_at_once(
    world, user, other, query
):
    """Related visibility: the topic's comments leave the watch when it turns
    private (a query on that very topic matches nothing for them then), and
    enter again when it turns public."""
    topic = world.public_topic
    query = {"topic": topic.pk} if query == "topic" else query
    async with communicator(other) as theirs:
        snapshot = await watch(theirs, "comments", query)
        shown = {c["id"] for c in snapshot["data"]["results"]}
        assert shown and shown <= {c.pk for c in world.comments}
        await save(topic, is_private=True)
        left = await events_until_quiet(theirs)
        assert {e["action"] for e in left} == {"leave"}
        assert {e["data"]["id"] for e in left} == shown
        await save(topic, is_private=False)
        entered = await events_until_quiet(theirs)
        assert {e["action"] for e in entered} == {"enter"}
        assert {e["data"]["id"] for e in entered} == shown
        for event in entered:
            _, body = await http_twin(
                other, "comments", "retrieve", event["data"]["id"]
            )
            assert event["data"] == body
