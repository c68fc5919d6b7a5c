"""The sample's @actions over the socket: `topics/close/<id>/` and `topics/mine/`.

Each answer is the HTTP route's (`http_twin`), for every role and refusal:
403 (anonymous: the sample authenticates by session first, so HTTP says 403,
not 401; not the owner), 404 (hidden or missing), 405 (a method the action
does not map), 400 (a comment on a closed topic), 429 (close's throttle).
"""

import pytest
from django.core.cache import cache

from discussion.models import Comment, Topic
from discussion.views import CloseRateThrottle
from realtime_api.testing import subscribe

from .helpers import communicator, http_twin, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

MISSING = 999_999


@pytest.fixture(autouse=True)
def clear_cache():
    """An empty cache before and after each test: throttles count in it."""
    cache.clear()
    yield
    cache.clear()


def topic_pk(world, target):
    return {
        "public": world.public_topic.pk,
        "private": world.private_topic.pk,
        "others": world.others_topic.pk,
        "missing": MISSING,
    }[target]


# (role, target, method) -> status, for `close`.
CLOSE_CASES = [
    ("anonymous", "public", None, 403),
    ("other", "public", None, 403),
    ("staff", "public", None, 403),  # staff see everything, close their own only
    ("owner", "public", None, 200),
    ("owner", "private", "post", 200),
    ("other", "private", None, 404),
    ("staff", "private", None, 403),
    ("owner", "missing", None, 404),
    ("other", "others", None, 200),
    ("owner", "public", "get", 405),
    ("owner", "public", "delete", 405),
    ("anonymous", "public", "get", 403),  # the checks run before the 405
]


@pytest.mark.parametrize(("role", "target", "method", "status"), CLOSE_CASES)
async def test_close_answers_as_http(world, users, role, target, method, status):
    """`topics/close/<id>/`: status and body of POST /api/topics/<id>/close/."""
    actor, pk = users[role], topic_pk(world, target)
    http = await http_twin(actor, "topics", "close", pk, {}, True, method)
    rows = await snapshot()
    extra = {"method": method} if method else {}
    async with communicator(actor) as ws:
        response = await ws.request("topics", "close", pk, **extra)
    assert (response["status"], response["data"]) == http
    assert response["status"] == status, response
    if status == 200:
        assert response["data"]["closed"] is True
        assert (await Topic.objects.aget(pk=pk)).closed
    else:
        assert await snapshot() == rows


@pytest.mark.parametrize(
    ("role", "payload", "method", "status"),
    [
        ("anonymous", {}, None, 403),
        ("owner", {}, None, 200),
        ("other", {}, "get", 200),
        ("owner", {"search": "sec"}, None, 200),
        ("owner", {"page": 9}, None, 404),
        ("owner", {}, "post", 405),
    ],
)
async def test_mine_answers_as_http(world, users, role, payload, method, status):
    """`topics/mine/`: the user's topics, private ones included, paginated."""
    actor = users[role]
    http = await http_twin(actor, "topics", "mine", None, payload, method=method)
    extra = {"method": method} if method else {}
    async with communicator(actor) as ws:
        response = await ws.request("topics", "mine", payload=payload, **extra)
    assert (response["status"], response["data"]) == http
    assert response["status"] == status, response
    if role == "owner" and not payload and status == 200:
        titles = [topic["title"] for topic in response["data"]["results"]]
        assert titles == ["Apples", "Secrets"]


async def test_close_is_throttled_by_its_own_throttle(world, user, monkeypatch):
    """Past CloseRateThrottle's rate both ways answer 429; the socket adds `wait`."""
    monkeypatch.setattr(CloseRateThrottle, "rate", "2/min")
    pk = world.public_topic.pk
    async with communicator(user) as ws:
        assert (await ws.request("topics", "close", pk))["status"] == 200
        assert (await http_twin(user, "topics", "close", pk))[0] == 200
        refused = await ws.request("topics", "close", pk)
        # The view's other actions keep its own throttles (none).
        assert (await ws.request("topics", "retrieve", pk))["status"] == 200
    status, body = await http_twin(user, "topics", "close", pk)
    assert refused["status"] == status == 429
    assert refused["data"]["detail"].startswith("Request was throttled.")
    assert body["detail"].startswith("Request was throttled.")
    assert 0 < refused["data"]["wait"] <= 60


async def test_a_closed_topic_refuses_new_comments_both_ways(world, user):
    """400 over HTTP and the socket, same body; existing comments stay editable."""
    topic, comment = world.public_topic, world.public_comment
    async with communicator(user) as ws:
        assert (await ws.request("topics", "close", topic.pk))["status"] == 200
        payload = {"topic": topic.pk, "text": "too late"}
        created = await ws.request("comments", "create", payload=payload)
        http = await http_twin(user, "comments", "create", payload=payload)
        moved = await ws.request(
            "comments", "update", world.others_comment.pk, {"topic": topic.pk}
        )
        edited = await ws.request("comments", "update", comment.pk, {"text": "ok"})
    assert (created["status"], created["data"]) == http
    assert created["data"] == {
        "topic": ["This topic is closed: it takes no new comments."]
    }
    assert moved["status"] == 403  # not theirs: the permission comes first
    assert edited["status"] == 200
    assert not await Comment.objects.filter(text="too late").aexists()


async def test_moving_a_comment_into_a_closed_topic_is_refused(world, user):
    """A comment moved into a closed topic is a new comment there: 400."""
    closed = await Topic.objects.acreate(title="Done", owner=user, closed=True)
    pk = world.public_comment.pk
    async with communicator(user) as ws:
        moved = await ws.request("comments", "update", pk, {"topic": closed.pk})
    http = await http_twin(user, "comments", "update", pk, {"topic": closed.pk})
    assert (moved["status"], moved["data"]) == http
    assert moved["status"] == 400


async def test_closing_broadcasts_to_subscribers(world, user, other):
    """The close is a save: another user's subscription hears `closed: true`."""
    pk = world.public_topic.pk
    async with communicator(other) as listener, communicator(user) as ws:
        await subscribe(listener, "topics", {"ids": [pk]})
        assert (await ws.request("topics", "close", pk))["status"] == 200
        event = await listener.receive_json_from(timeout=5)
    assert (event["action"], event["data"]["closed"]) == ("update", True)
    assert (200, event["data"]) == await http_twin(other, "topics", "retrieve", pk)


def test_the_schemas_list_the_sample_s_actions():
    """OpenAPI has both routes; AsyncAPI both operations with their bodies."""
    from drf_spectacular.generators import SchemaGenerator

    from realtime_api.schema.asyncapi import build_document

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert "post" in paths["/api/topics/{id}/close/"]
    assert "get" in paths["/api/topics/mine/"]
    document = build_document(host="testserver")
    operations = document["operations"]
    assert operations["topics.close"]["summary"].startswith("Close a topic")
    assert "topics.mine" in operations
    messages = document["channels"]["topics"]["messages"]
    response = messages["closeResponse"]["payload"]["properties"]
    assert response["data"] == {"$ref": "#/components/schemas/Topic"}
    mine = messages["mineResponse"]["payload"]["properties"]["data"]
    assert mine == {"$ref": "#/components/schemas/PaginatedTopicList"}
