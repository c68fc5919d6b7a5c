"""The live demo page over HTTP, and the topic subscriptions it relies on.

The page itself, in a browser, is tested in test_browser.py.
"""

import pytest
from django.contrib.staticfiles import finders

from discussion.models import Topic
from realtime_api.testing import subscribe

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_page_is_served_at_the_root(client):
    """`/` renders the page: the client's URL, a login link, the indicator."""
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="connection"' in html
    assert 'href="/api-auth/login/?next=/"' in html
    assert "/static/realtime_api/realtime.js" in html  # In the page's config.
    assert 'id="topic-form"' not in html  # Anonymous users may not post.


def test_a_logged_in_user_gets_the_forms_and_a_logout_form(client, user):
    """The forms and the (POST, CSRF-protected) logout are there once logged in."""
    client.force_login(user)
    html = client.get("/").content.decode()
    assert 'id="topic-form"' in html
    assert 'id="comment-form"' in html
    assert 'action="/api-auth/logout/"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.parametrize(
    "path", ["realtime_api/realtime.js", "discussion/demo.js", "discussion/demo.css"]
)
def test_the_page_s_static_files_exist(path):
    """The client and the page's own files are found as static files."""
    assert finders.find(path)


async def create_topic(owner, title, is_private=False):
    return await Topic.objects.acreate(owner=owner, title=title, is_private=is_private)


async def test_public_topics_subscription_hears_of_new_public_topics(user, other):
    """`{"is_private": false}` hears of public topics made later, not private ones."""
    async with communicator(other) as ws:
        await subscribe(ws, "topics", {"is_private": False})
        await create_topic(user, "Secret", is_private=True)
        assert await ws.queue_empty()
        public = await create_topic(user, "News")
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", public.pk)


async def test_own_topics_subscription_hears_of_new_private_topics(user, other):
    """`{"owner": <me>}` hears of my new topics, private ones included."""
    async with communicator(user) as ws:
        payload = {"owner": user.username}
        await subscribe(ws, "topics", payload)
        private = await create_topic(user, "Diary", is_private=True)
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", private.pk)
        await create_topic(other, "Not mine")
        assert await ws.queue_empty()


async def test_another_users_topics_subscription_never_hears_their_private_ones(
    user, other
):
    """`{"owner": <someone else>}` does not open their group of private topics."""
    async with communicator(other) as ws:
        payload = {"owner": user.username}
        await subscribe(ws, "topics", payload)
        await create_topic(user, "Diary", is_private=True)
        await create_topic(user, "Public, but made after subscribing")
        assert await ws.queue_empty()
