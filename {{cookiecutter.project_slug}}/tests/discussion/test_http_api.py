"""The sample API over HTTP: who sees and changes what, validation, filtering,
pagination and ordering. The WebSocket API must answer exactly the same."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from discussion.models import Comment, Topic

pytestmark = pytest.mark.django_db

TOPICS = "/api/topics/"
COMMENTS = "/api/comments/"
NOT_FOUND = {"detail": "No Topic matches the given query."}
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
NOT_OWNER = {"detail": "Only the user who created this object may change or delete it."}


@pytest.fixture
def alice(django_user_model):
    """The owner of every topic and comment in `world`."""
    return django_user_model.objects.create_user("alice", password="pw-alice")


@pytest.fixture
def bob(django_user_model):
    """Another user: sees public things, owns nothing."""
    return django_user_model.objects.create_user("bob", password="pw-bob")


@pytest.fixture
def staff(django_user_model):
    """A staff user: sees everything, owns nothing."""
    return django_user_model.objects.create_user(
        "staff", password="pw-staff", is_staff=True
    )


@pytest.fixture
def world(alice):
    """A public and a private topic of alice's, each with one comment of hers."""
    public = Topic.objects.create(title="Public", owner=alice)
    private = Topic.objects.create(title="Private", owner=alice, is_private=True)
    return {
        "public": public,
        "private": private,
        "public_comment": Comment.objects.create(
            topic=public, author=alice, text="on public"
        ),
        "private_comment": Comment.objects.create(
            topic=private, author=alice, text="on private"
        ),
    }


@pytest.fixture
def client_for(alice, bob, staff):
    """client_for("anonymous" | "alice" | "bob" | "staff") -> an APIClient."""

    def make(who):
        client = APIClient()
        users = {"alice": alice, "bob": bob, "staff": staff}
        if who != "anonymous":
            client.force_authenticate(users[who])
        return client

    return make


def ids(response):
    """The ids of a paginated list response."""
    return [item["id"] for item in response.json()["results"]]


# --- Reading: who sees what -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("anonymous", ["public"]),
        ("bob", ["public"]),
        ("alice", ["public", "private"]),
        ("staff", ["public", "private"]),
    ],
)
def test_topic_list_shows_public_topics_and_own_private_ones(
    client_for, world, who, visible
):
    """Topic lists hold public topics plus the user's private ones (all for staff)."""
    response = client_for(who).get(TOPICS)
    assert response.status_code == 200
    assert ids(response) == [world[name].pk for name in visible]


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("anonymous", ["public_comment"]),
        ("bob", ["public_comment"]),
        ("alice", ["public_comment", "private_comment"]),
        ("staff", ["public_comment", "private_comment"]),
    ],
)
def test_comment_list_shows_comments_of_visible_topics(client_for, world, who, visible):
    """Comment lists hold only the comments of topics the user may see."""
    response = client_for(who).get(COMMENTS)
    assert response.status_code == 200
    assert ids(response) == [world[name].pk for name in visible]


@pytest.mark.parametrize(
    ("who", "public_status", "private_status"),
    [
        ("anonymous", 200, 404),
        ("bob", 200, 404),
        ("alice", 200, 200),
        ("staff", 200, 200),
    ],
)
def test_retrieve_private_objects_only_when_visible(
    client_for, world, who, public_status, private_status
):
    """Private topics and their comments are a 404 to everyone but owner and staff."""
    client = client_for(who)
    for kind, url in (("", TOPICS), ("_comment", COMMENTS)):
        assert client.get(f"{url}{world['public' + kind].pk}/").status_code == (
            public_status
        )
        assert client.get(f"{url}{world['private' + kind].pk}/").status_code == (
            private_status
        )


def test_invisible_topic_is_indistinguishable_from_a_missing_one(client_for, world):
    """Another user's private topic answers exactly like a topic that never existed."""
    client = client_for("bob")
    hidden = client.get(f"{TOPICS}{world['private'].pk}/")
    missing = client.get(f"{TOPICS}999999/")
    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)


def test_serialized_shapes(client_for, world, alice):
    """Topics and comments serialize their owner/author as the username."""
    client = client_for("alice")
    topic = client.get(f"{TOPICS}{world['public'].pk}/").json()
    assert set(topic) == {
        *("id", "title", "owner", "is_private", "closed", "created", "can_edit")
    }
    assert (topic["owner"], topic["title"], topic["is_private"]) == (
        "alice",
        "Public",
        False,
    )
    comment = client.get(f"{COMMENTS}{world['public_comment'].pk}/").json()
    assert set(comment) == {
        *("id", "topic", "author", "text", "created", "updated", "can_edit")
    }
    assert (comment["topic"], comment["author"], comment["text"]) == (
        world["public"].pk,
        "alice",
        "on public",
    )


@pytest.mark.parametrize(
    ("who", "can_edit"),
    [("alice", True), ("bob", False), ("staff", False), ("anonymous", False)],
)
def test_can_edit_is_true_for_the_owner_or_author_only(
    client_for, world, who, can_edit
):
    """`can_edit` says whether this user may change the object (staff read only)."""
    client = client_for(who)
    topic = client.get(f"{TOPICS}{world['public'].pk}/").json()
    comment = client.get(f"{COMMENTS}{world['public_comment'].pk}/").json()
    assert topic["can_edit"] is comment["can_edit"] is can_edit


# --- Creating -------------------------------------------------------------------------


def test_anonymous_cannot_create(client_for, world):
    """Anonymous users may read but not create topics or comments."""
    client = client_for("anonymous")
    response = client.post(TOPICS, {"title": "Nope"}, format="json")
    assert (response.status_code, response.json()) == (403, NOT_AUTHENTICATED)
    response = client.post(
        COMMENTS, {"topic": world["public"].pk, "text": "nope"}, format="json"
    )
    assert (response.status_code, response.json()) == (403, NOT_AUTHENTICATED)
    assert Topic.objects.count() == 2
    assert Comment.objects.count() == 2


def test_create_topic_sets_owner_to_the_requesting_user(client_for, bob):
    """A new topic belongs to whoever posts it; an `owner` in the body is ignored."""
    response = client_for("bob").post(
        TOPICS, {"title": "Mine", "owner": "alice", "is_private": True}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["owner"] == "bob"
    topic = Topic.objects.get(pk=response.json()["id"])
    assert (topic.owner, topic.title, topic.is_private) == (bob, "Mine", True)


def test_create_topic_requires_a_title(client_for):
    """A topic needs a title of at most 200 characters."""
    client = client_for("bob")
    response = client.post(TOPICS, {}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"title": ["This field is required."]},
    )
    response = client.post(TOPICS, {"title": "x" * 201}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"title": ["Ensure this field has no more than 200 characters."]},
    )


@pytest.mark.parametrize(
    ("who", "topic", "status"),
    [
        ("bob", "public", 201),
        ("bob", "private", 400),
        ("alice", "public", 201),
        ("alice", "private", 201),
        ("staff", "private", 201),
    ],
)
def test_create_comment_in_visible_topics_only(client_for, world, who, topic, status):
    """Users may comment on the topics they can see, and on no other."""
    response = client_for(who).post(
        COMMENTS, {"topic": world[topic].pk, "text": "hello"}, format="json"
    )
    assert response.status_code == status, response.json()
    if status == 201:
        assert response.json()["author"] == who
        assert Comment.objects.get(pk=response.json()["id"]).author.username == who


def test_comment_in_invisible_topic_fails_like_a_missing_topic(client_for, world):
    """Commenting on a private topic of someone else is the 400 of a missing topic."""
    client = client_for("bob")
    private_pk = world["private"].pk
    hidden = client.post(COMMENTS, {"topic": private_pk, "text": "hi"}, format="json")
    missing = client.post(COMMENTS, {"topic": 999999, "text": "hi"}, format="json")
    assert (hidden.status_code, hidden.json()) == (
        400,
        {"topic": [f'Invalid pk "{private_pk}" - object does not exist.']},
    )
    assert (missing.status_code, missing.json()) == (
        400,
        {"topic": ['Invalid pk "999999" - object does not exist.']},
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "This field may not be blank."),
        ("   ", "This field may not be blank."),
        ("x" * 2001, "Ensure this field has no more than 2000 characters."),
        (None, "This field may not be null."),
    ],
)
def test_comment_text_validation(client_for, world, text, error):
    """Comment text must hold 1 to 2000 characters; DRF's own messages say why not."""
    response = client_for("bob").post(
        COMMENTS, {"topic": world["public"].pk, "text": text}, format="json"
    )
    assert (response.status_code, response.json()) == (400, {"text": [error]})


def test_comment_text_bounds_are_accepted(client_for, world):
    """One character and exactly 2000 characters are both valid comment texts."""
    client = client_for("bob")
    for text in ("x", "x" * 2000):
        response = client.post(
            COMMENTS, {"topic": world["public"].pk, "text": text}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["text"] == text


def test_comment_requires_text_and_topic(client_for):
    """A comment without topic or text is refused, naming both fields."""
    response = client_for("bob").post(COMMENTS, {}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"topic": ["This field is required."], "text": ["This field is required."]},
    )


# --- Changing and deleting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "public_status", "private_status"),
    [
        ("anonymous", 403, 403),
        ("bob", 403, 404),
        ("staff", 403, 403),
        ("alice", 200, 200),
    ],
)
def test_only_the_owner_updates_a_topic(
    client_for, world, who, public_status, private_status
):
    """PATCH on a topic: owner 200; others 403 if they see it, 404 if they don't."""
    client = client_for(who)
    for name, status in (("public", public_status), ("private", private_status)):
        response = client.patch(
            f"{TOPICS}{world[name].pk}/", {"title": "Renamed"}, format="json"
        )
        assert response.status_code == status
        world[name].refresh_from_db()
        assert (world[name].title == "Renamed") == (status == 200)
    if who == "bob":
        response = client.patch(f"{TOPICS}{world['public'].pk}/", {}, format="json")
        assert response.json() == NOT_OWNER


@pytest.mark.parametrize(
    ("who", "public_status", "private_status"),
    [
        ("anonymous", 403, 403),
        ("bob", 403, 404),
        ("staff", 403, 403),
        ("alice", 204, 204),
    ],
)
def test_only_the_owner_deletes_a_topic(
    client_for, world, who, public_status, private_status
):
    """DELETE on a topic: owner 204; others 403 if they see it, 404 if they don't."""
    client = client_for(who)
    for name, status in (("public", public_status), ("private", private_status)):
        response = client.delete(f"{TOPICS}{world[name].pk}/")
        assert response.status_code == status
        assert Topic.objects.filter(pk=world[name].pk).exists() == (status != 204)


@pytest.mark.parametrize(
    ("who", "public_status", "private_status"),
    [
        ("anonymous", 403, 403),
        ("bob", 403, 404),
        ("staff", 403, 403),
        ("alice", 200, 200),
    ],
)
def test_only_the_author_updates_a_comment(
    client_for, world, who, public_status, private_status
):
    """PATCH on a comment: author 200; others 403 if they see it, 404 if they don't."""
    client = client_for(who)
    for name, status in (
        ("public_comment", public_status),
        ("private_comment", private_status),
    ):
        response = client.patch(
            f"{COMMENTS}{world[name].pk}/", {"text": "edited"}, format="json"
        )
        assert response.status_code == status
        world[name].refresh_from_db()
        assert (world[name].text == "edited") == (status == 200)


@pytest.mark.parametrize(
    ("who", "public_status", "private_status"),
    [
        ("anonymous", 403, 403),
        ("bob", 403, 404),
        ("staff", 403, 403),
        ("alice", 204, 204),
    ],
)
def test_only_the_author_deletes_a_comment(
    client_for, world, who, public_status, private_status
):
    """DELETE on a comment: author 204; others 403 if they see it, 404 if they don't."""
    client = client_for(who)
    for name, status in (
        ("public_comment", public_status),
        ("private_comment", private_status),
    ):
        response = client.delete(f"{COMMENTS}{world[name].pk}/")
        assert response.status_code == status
        assert Comment.objects.filter(pk=world[name].pk).exists() == (status != 204)


def test_owner_and_created_are_read_only(client_for, world):
    """PATCHing owner or created changes nothing; the server owns those fields."""
    topic = world["public"]
    created = topic.created
    response = client_for("alice").patch(
        f"{TOPICS}{topic.pk}/",
        {"owner": "bob", "created": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    topic.refresh_from_db()
    assert (topic.owner.username, topic.created) == ("alice", created)


def test_comment_cannot_move_into_an_invisible_topic(client_for, world, bob):
    """Moving a comment into a topic the author cannot see is the missing-topic 400."""
    comment = Comment.objects.create(topic=world["public"], author=bob, text="mine")
    response = client_for("bob").patch(
        f"{COMMENTS}{comment.pk}/", {"topic": world["private"].pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "topic": [f'Invalid pk "{world["private"].pk}" - object does not exist.']
    }


# --- Filtering, searching, pagination, ordering ---------------------------------------


def test_filter_comments_by_topic(client_for, world, alice):
    """?topic=<id> lists the comments of that topic only."""
    other = Topic.objects.create(title="Other", owner=alice)
    extra = Comment.objects.create(topic=other, author=alice, text="elsewhere")
    response = client_for("anonymous").get(COMMENTS, {"topic": other.pk})
    assert response.status_code == 200
    assert ids(response) == [extra.pk]


def test_filter_by_invisible_topic_is_like_a_missing_topic(client_for, world):
    """?topic=<a private topic of someone else> answers as ?topic=<no such topic>."""
    client = client_for("bob")
    hidden = client.get(COMMENTS, {"topic": world["private"].pk})
    missing = client.get(COMMENTS, {"topic": 999999})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json()


def test_filter_topics_by_privacy(client_for, world):
    """?is_private=true lists the user's private topics only."""
    response = client_for("alice").get(TOPICS, {"is_private": "true"})
    assert ids(response) == [world["private"].pk]


def test_search(client_for, world, alice):
    """?search= matches topic titles and comment texts."""
    client = client_for("alice")
    assert ids(client.get(TOPICS, {"search": "priv"})) == [world["private"].pk]
    assert ids(client.get(COMMENTS, {"search": "on public"})) == [
        world["public_comment"].pk
    ]


@pytest.fixture
def many_comments(world, alice):
    """105 comments in the public topic, all with the same `created` time."""
    topic = world["public"]
    Comment.objects.filter(topic=topic).delete()
    Comment.objects.bulk_create(
        Comment(topic=topic, author=alice, text=f"comment {n}") for n in range(105)
    )
    Comment.objects.update(created=timezone.now())
    return list(
        Comment.objects.filter(topic=topic).order_by("id").values_list("id", flat=True)
    )


def test_pagination_defaults_to_20(client_for, many_comments):
    """A list page holds 20 items by default, with the count and a next link."""
    body = client_for("anonymous").get(COMMENTS).json()
    assert body["count"] == 105
    assert len(body["results"]) == 20
    assert "page=2" in body["next"]
    assert body["previous"] is None


def test_pagination_page_size_is_capped_at_100(client_for, many_comments):
    """?page_size= chooses the page size, up to 100."""
    client = client_for("anonymous")
    assert len(client.get(COMMENTS, {"page_size": 7}).json()["results"]) == 7
    assert len(client.get(COMMENTS, {"page_size": 1000}).json()["results"]) == 100


def test_page_past_the_end_is_404(client_for, many_comments):
    """Asking for a page after the last one is a 404, as DRF answers it."""
    response = client_for("anonymous").get(COMMENTS, {"page": 99})
    assert response.status_code == 404


def test_default_order_is_by_id(client_for, many_comments):
    """Without ?ordering= items come in id order."""
    body = client_for("anonymous").get(COMMENTS, {"page_size": 100}).json()
    assert [item["id"] for item in body["results"]] == many_comments[:100]


def test_ordering_by_a_tied_column_pages_every_item_once(client_for, many_comments):
    """Ordering by equal `created` values still pages each item exactly once."""
    client = client_for("anonymous")
    seen = []
    for ordering in ("created", "-created"):
        seen = []
        page = 1
        while True:
            response = client.get(
                COMMENTS, {"ordering": ordering, "page_size": 10, "page": page}
            )
            seen += ids(response)
            if response.json()["next"] is None:
                break
            page += 1
        assert seen == many_comments


def test_ordering_descending_by_id(client_for, many_comments):
    """?ordering=-id reverses the list."""
    body = client_for("anonymous").get(COMMENTS, {"ordering": "-id"}).json()
    assert [item["id"] for item in body["results"]] == many_comments[::-1][:20]
