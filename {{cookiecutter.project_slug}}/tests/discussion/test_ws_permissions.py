"""Who may do what: the WebSocket answer is the HTTP answer, for every role.

The roles are anonymous, `other` (a second user), `owner` (the user who owns
the topics and wrote the comments of `world`) and `staff` (`admin`); the
targets a public and a private topic, or a comment in one.
"""

import json
import re

import pytest

from discussion.models import Comment, Topic

from .helpers import communicator, http_twin, snapshot, without_volatile

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ["anonymous", "other", "owner", "staff"]
ACTIONS = ["list", "retrieve", "create", "update", "replace", "delete", "subscribe"]
MISSING = 999_999


def target_objects(world, target):
    if target == "public":
        return world.public_topic, world.public_comment
    return world.private_topic, world.private_comment


def request_for(world, stream, action, target):
    """Return (lookup, payload) of `action` on the public or private target."""
    topic, comment = target_objects(world, target)
    obj = topic if stream == "topics" else comment
    private = target == "private"
    if action == "list":
        return None, {"is_private": private} if stream == "topics" else {
            "topic": topic.pk
        }
    if action == "create":
        if stream == "topics":
            return None, {"title": "New", "is_private": private}
        return None, {"topic": topic.pk, "text": "New"}
    if action == "update":
        return obj.pk, {"title": "Renamed"} if stream == "topics" else {
            "text": "Edited"
        }
    if action == "replace":  # PUT: every field
        if stream == "topics":
            return obj.pk, {"title": "Renamed", "is_private": private}
        return obj.pk, {"topic": topic.pk, "text": "Edited"}
    if action == "subscribe":
        return None, {"id": obj.pk}
    return obj.pk, {}


def expected_status(role, stream, action, target):
    """The sample app's rules (models.py, permissions.py), as HTTP statuses."""
    visible = target == "public" or role in ("owner", "staff")
    if action == "subscribe":
        return 200
    if action == "list":
        # ?topic=<a topic you cannot see> is refused like a nonexistent topic.
        return 200 if visible or stream == "topics" else 400
    if action == "retrieve":
        return 200 if visible else 404
    if role == "anonymous":
        return 403
    if action == "create":
        return 201 if visible or stream == "topics" else 400
    if not visible:
        return 404
    if role != "owner":  # staff may see everything but change only their own
        return 403
    return 200 if action in ("update", "replace") else 204


@pytest.mark.parametrize("target", ["public", "private"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("stream", ["topics", "comments"])
@pytest.mark.parametrize("role", ROLES)
async def test_ws_answers_as_http(world, users, role, stream, action, target):
    """Status (and body) over the socket equal HTTP's, for each role and action."""
    actor = users[role]
    lookup, payload = request_for(world, stream, action, target)
    if action == "subscribe":
        # No HTTP twin: a subscription matches what GET detail would show.
        http = await http_twin(actor, stream, "retrieve", payload["id"])
    else:
        http = await http_twin(actor, stream, action, lookup, payload, dry_run=True)
    rows = await snapshot()
    async with communicator(actor) as ws:
        response = await ws.request(stream, action, lookup, payload)
    assert response["status"] == expected_status(role, stream, action, target)
    if action == "subscribe":
        assert response["data"]["matched"] == (1 if http[0] == 200 else 0)
        return
    assert response["status"] == http[0]
    if http[0] >= 400 or action in ("list", "retrieve"):
        assert response["data"] == http[1]
        if http[0] >= 400:
            assert await snapshot() == rows
    else:
        assert without_volatile(response["data"]) == without_volatile(http[1])


def hide_pk(value, pk):
    """`value` with `pk` written as "PK", where it is echoed (lookup, messages)."""
    if isinstance(value, dict):
        return {k: hide_pk(v, pk) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [hide_pk(item, pk) for item in value]
    if isinstance(value, str):
        return re.sub(rf"\b{pk}\b", "PK", value)
    return value


@pytest.mark.parametrize(
    ("stream", "action"),
    [
        ("topics", "retrieve"),
        ("topics", "update"),
        ("topics", "delete"),
        ("topics", "subscribe"),
        ("comments", "retrieve"),
        ("comments", "update"),
        ("comments", "delete"),
        ("comments", "subscribe"),
        ("comments", "list"),
        ("comments", "create"),
    ],
)
@pytest.mark.parametrize("role", ["anonymous", "other"])
async def test_no_existence_leak(world, users, role, stream, action):
    """A private object is, to outsiders, exactly a nonexistent one."""
    actor = users[role]
    lookup, payload = request_for(world, stream, action, "private")
    private_pk = lookup or payload.get("id") or payload["topic"]
    missing_payload = json.loads(
        json.dumps(payload).replace(str(private_pk), str(MISSING))
    )
    missing_lookup = MISSING if lookup else None
    async with communicator(actor) as ws:
        hidden = await ws.request(stream, action, lookup, payload, request_id=1)
        missing = await ws.request(
            stream, action, missing_lookup, missing_payload, request_id=1
        )
    assert hide_pk(hidden, private_pk) == hide_pk(missing, MISSING)


# The sample app's rules --------------------------------------------------------

TOPIC_FIELDS = ["id", "title", "owner", "is_private", "closed", "created", "can_edit"]
COMMENT_FIELDS = ["id", "topic", "author", "text", "created", "updated", "can_edit"]


async def test_fields(world, user):
    """Topics and comments have the fields the sample app documents."""
    async with communicator(user) as ws:
        topic = await ws.request("topics", "retrieve", world.public_topic.pk)
        comment = await ws.request("comments", "retrieve", world.public_comment.pk)
    assert list(topic["data"]) == TOPIC_FIELDS
    assert list(comment["data"]) == COMMENT_FIELDS
    assert topic["data"]["owner"] == comment["data"]["author"] == "user"
    assert comment["data"]["topic"] == world.public_topic.pk


READ_ONLY = {"created": "2000-01-01T00:00:00Z", "updated": "2000-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("stream", "payload", "author_field"),
    [
        ("topics", {"title": "Mine", "owner": "other", **READ_ONLY}, "owner"),
        ("comments", {"text": "mine", "author": "other", **READ_ONLY}, "author"),
    ],
)
async def test_read_only_fields_are_ignored_on_create(
    world, user, stream, payload, author_field
):
    """owner/author, created and updated cannot be set: the requesting user owns it."""
    if stream == "comments":
        payload = {**payload, "topic": world.public_topic.pk}
    async with communicator(user) as ws:
        response = await ws.request(stream, "create", payload=payload)
    status, body = await http_twin(user, stream, "create", payload=payload)
    assert response["status"] == status == 201
    assert without_volatile(response["data"]) == without_volatile(body)
    assert response["data"][author_field] == "user"
    assert not response["data"]["created"].startswith("2000")


@pytest.mark.parametrize(
    ("stream", "payload", "author_field"),
    [
        ("topics", {"owner": "other", **READ_ONLY}, "owner"),
        ("comments", {"author": "other", **READ_ONLY}, "author"),
    ],
)
async def test_read_only_fields_are_ignored_on_update(
    world, user, stream, payload, author_field
):
    """An update cannot hand an object to another user or change its timestamps."""
    obj = world.public_topic if stream == "topics" else world.public_comment
    http = await http_twin(user, stream, "update", obj.pk, payload, dry_run=True)
    async with communicator(user) as ws:
        response = await ws.request(stream, "update", obj.pk, payload)
    assert response["status"] == http[0] == 200
    assert without_volatile(response["data"]) == without_volatile(http[1])
    assert response["data"][author_field] == "user"
    assert not response["data"]["created"].startswith("2000")
    model = Topic if stream == "topics" else Comment
    assert await model.objects.filter(pk=obj.pk, **{f"{author_field}": user}).aexists()


@pytest.mark.parametrize("action", ["create", "update"])
async def test_comment_in_an_invisible_topic_is_like_a_missing_topic(
    world, user, other, action
):
    """Putting a comment in a topic one cannot see fails as for a nonexistent topic."""
    lookup = world.others_comment.pk if action == "update" else None
    actor = other
    private = world.private_topic.pk
    rows = await snapshot()
    async with communicator(actor) as ws:
        hidden = await ws.request(
            "comments", action, lookup, {"topic": private, "text": "x"}, request_id=1
        )
        missing = await ws.request(
            "comments", action, lookup, {"topic": MISSING, "text": "x"}, request_id=1
        )
    http = await http_twin(
        actor, "comments", action, lookup, {"topic": private, "text": "x"}
    )
    assert hidden["status"] == missing["status"] == 400
    assert (hidden["status"], hidden["data"]) == http
    assert hide_pk(hidden, private) == hide_pk(missing, MISSING)
    assert await snapshot() == rows
