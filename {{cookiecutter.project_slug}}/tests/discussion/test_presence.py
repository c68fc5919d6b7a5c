"""Who is on a topic: the sample's rules for presence (TopicStream.presence).

Joining a topic is a `retrieve` of it: a private topic's presence is its
owner's (and staff's) alone. The framework's own presence tests are in
tests/realtime/test_ws_presence.py.
"""

import pytest

from realtime_api.testing import events_until_quiet, join

from .helpers import communicator, save

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ["anonymous", "other", "owner", "staff"]


@pytest.fixture(autouse=True)
def no_grace(settings):
    settings.REALTIME_API_PRESENCE_GRACE_SECONDS = 0


@pytest.mark.parametrize("target", ["public", "private"])
@pytest.mark.parametrize("role", ROLES)
async def test_joining_a_topic_is_answered_as_retrieving_it(world, users, role, target):
    """Who may retrieve a topic may join it (anonymous users excepted: 403); the
    others get the very 404 of `retrieve`."""
    topic = world.public_topic if target == "public" else world.private_topic
    async with communicator(users[role]) as ws:
        retrieved = await ws.request("topics", "retrieve", topic.pk)
        joined = await ws.request("topics", "join", topic.pk)
    if retrieved["status"] != 200:
        assert (joined["status"], joined["data"]) == (404, retrieved["data"])
    elif role == "anonymous":
        assert joined["status"] == 403, joined
    else:
        assert joined["status"] == 200, joined


async def test_members_show_their_full_name(world, user, other):
    """TopicStream shows a user's full name, or their username without one."""
    user.first_name, user.last_name = "Ada", "Lovelace"
    await user.asave()
    async with communicator(user) as mine, communicator(other) as theirs:
        await join(mine, "topics", world.public_topic.pk)
        members = await join(theirs, "topics", world.public_topic.pk)
    assert members == [
        {"id": user.pk, "name": "Ada Lovelace"},
        {"id": other.pk, "name": "other"},
    ]


async def test_a_topic_made_private_keeps_only_its_owner_and_staff(
    world, user, other, admin
):
    """Staff still see a private topic: they stay; the other user is taken out."""
    topic = world.public_topic
    async with (
        communicator(user) as owner,
        communicator(other) as guest,
        communicator(admin) as staff,
    ):
        for ws in (owner, guest, staff):
            await join(ws, "topics", topic.pk)
        for ws in (owner, guest):
            await events_until_quiet(ws)  # Who joined after them.

        await save(topic, is_private=True)

        gone = await owner.receive_event()
        assert gone["data"] == {
            "joined": [],
            "left": [{"id": other.pk, "name": "other"}],
        }
        assert (await staff.receive_event())["data"] == gone["data"]
        removed = await guest.receive_event()
        assert {m["id"] for m in removed["data"]["left"]} == {
            user.pk,
            other.pk,
            admin.pk,
        }
        signal = await owner.request("topics", "signal", topic.pk, {"typing": True})
        assert signal["status"] == 200
        relayed = await staff.receive_event()
        assert relayed["data"]["from"] == {"id": user.pk, "name": "user"}
        assert await guest.queue_empty()


async def test_comments_have_no_presence(world, user):
    """Only topics opt in: join on comments is a 405."""
    async with communicator(user) as ws:
        response = await ws.request("comments", "join", world.public_comment.pk)
    assert response["status"] == 405, response
