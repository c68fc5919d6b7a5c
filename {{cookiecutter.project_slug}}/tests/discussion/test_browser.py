"""The live demo page in a real browser: two users, live updates, reconnects.

Each test runs a real daphne server and the system Chromium (see browser.py
for how they are found, and when the tests skip). Screenshots of every page
are saved in test-artifacts/browser/<test>/.
"""

import pytest

from discussion.models import Comment, Topic

from . import browser as fixtures
from .browser import LIVE, comments, expect

# The fixtures of browser.py, for the tests of this module.
chromium, demo_server, open_page = (
    fixtures.chromium,
    fixtures.demo_server,
    fixtures.open_page,
)

pytestmark = pytest.mark.django_db(transaction=True)


def topics(page, text=None):
    """The page's topic items (those containing `text`)."""
    return page.locator("#topics > li", has_text=text)


def pinned(page, items):
    """The item `items` finds now, by id: still found while it is edited."""
    return page.locator(
        f"#{items.get_attribute('data-key').split(':')[0]}s > li"
        f'[data-id="{items.get_attribute("data-id")}"]'
    )


@pytest.fixture
def topic(alice):
    """A public topic of alice's, with one comment."""
    topic = Topic.objects.create(title="Lunch", owner=alice)
    Comment.objects.create(topic=topic, author=alice, text="Pizza?")
    return topic


def post_comment(page, text):
    page.fill("#comment-text", text)
    page.click("#comment-form button[type=submit]")


def test_a_comment_appears_in_the_other_users_page(open_page, alice, bob, topic):
    """A comment posted in alice's page shows in bob's within 2 s, no reload."""
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}")
    expect(comments(bob_page, "Pizza?")).to_have_count(1)

    post_comment(alice_page, "Pasta!")

    expect(comments(bob_page, "Pasta!")).to_have_count(1, timeout=LIVE)
    expect(comments(alice_page, "Pasta!")).to_have_count(1)
    # Only the author gets edit and delete buttons.
    expect(comments(alice_page, "Pasta!").locator("button.edit")).to_have_count(1)
    expect(comments(bob_page, "Pasta!").locator("button.edit")).to_have_count(0)


def test_edits_and_deletes_propagate(open_page, alice, bob, topic):
    """Editing and deleting a comment, and creating, renaming and deleting a
    topic, all show in the other page."""
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}")

    mine = pinned(alice_page, comments(alice_page, "Pizza?"))
    mine.locator("button.edit").click()
    mine.locator("textarea[name=text]").fill("Sushi?")
    mine.locator("button[type=submit]").click()
    expect(comments(bob_page, "Sushi?")).to_have_count(1, timeout=LIVE)
    expect(comments(bob_page, "Pizza?")).to_have_count(0)

    comments(alice_page, "Sushi?").locator("button.delete").click()
    expect(comments(bob_page)).to_have_count(0, timeout=LIVE)
    expect(comments(alice_page)).to_have_count(0, timeout=LIVE)

    alice_page.fill("#topic-title", "Dinner")
    alice_page.click("#topic-form button[type=submit]")
    expect(topics(bob_page, "Dinner")).to_have_count(1, timeout=LIVE)

    dinner = pinned(alice_page, topics(alice_page, "Dinner"))
    dinner.locator("button.edit").click()
    dinner.locator("input[name=title]").fill("Late dinner")
    dinner.locator("button[type=submit]").click()
    expect(topics(bob_page, "Late dinner")).to_have_count(1, timeout=LIVE)

    topics(alice_page, "Late dinner").locator("button.delete").click()
    expect(topics(bob_page, "dinner")).to_have_count(0, timeout=LIVE)
    expect(topics(bob_page)).to_have_count(1)  # Lunch stays.


def test_a_private_topic_never_appears_for_another_user(open_page, alice, bob):
    """Alice's private topic shows in her page only: not bob's, not anonymous."""
    alice_page = open_page(alice)
    bob_page = open_page(bob)
    anonymous_page = open_page(None)

    alice_page.fill("#topic-title", "Surprise party")
    alice_page.check("#topic-form input[name=is_private]")
    alice_page.click("#topic-form button[type=submit]")
    expect(topics(alice_page, "Surprise party")).to_have_count(1)
    expect(topics(alice_page, "Surprise party").locator(".badge")).to_have_text(
        "private"
    )
    # A public topic made after it arrives: by then the private one would have.
    alice_page.fill("#topic-title", "Office party")
    alice_page.click("#topic-form button[type=submit]")
    for page in (bob_page, anonymous_page):
        expect(topics(page, "Office party")).to_have_count(1, timeout=LIVE)
        expect(topics(page, "Surprise")).to_have_count(0)

    # Changes to it, and a fresh load, do not show it either.
    private = Topic.objects.get(title="Surprise party")
    surprise = pinned(alice_page, topics(alice_page, "Surprise party"))
    surprise.locator("button.edit").click()
    surprise.locator("input[name=title]").fill("Surprise party!")
    surprise.locator("button[type=submit]").click()
    expect(topics(alice_page, "Surprise party!")).to_have_count(1)
    bob_page.goto(f"/#topic={private.pk}")
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "open")
    expect(topics(bob_page, "Office party")).to_have_count(1)
    expect(topics(bob_page, "Surprise")).to_have_count(0)
    expect(bob_page.locator("#comments-heading")).to_have_text("Pick a topic")


def test_validation_errors_show_next_to_the_form(open_page, alice, topic):
    """The server's field errors are shown next to the field that caused them."""
    page = open_page(alice, f"/#topic={topic.pk}")

    page.click("#topic-form button[type=submit]")
    expect(page.locator('#topic-form .errors[data-for="title"]')).to_have_text(
        "This field may not be blank."
    )
    post_comment(page, "")
    expect(page.locator('#comment-form .errors[data-for="text"]')).to_have_text(
        "This field may not be blank."
    )
    post_comment(page, "x" * 2001)
    expect(page.locator('#comment-form .errors[data-for="text"]')).to_contain_text(
        "no more than 2000 characters"
    )
    # A valid comment clears the errors.
    post_comment(page, "Fine")
    expect(comments(page, "Fine")).to_have_count(1)
    expect(page.locator('#comment-form .errors[data-for="text"]')).to_have_text("")


def test_the_page_reconnects_after_the_server_restarts(
    open_page, demo_server, alice, bob, topic
):
    """After the server drops every socket, the pages reconnect, subscribe
    again and keep receiving events."""
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}")

    demo_server.stop()  # Every socket closes; the subscriptions are gone.
    for page in (alice_page, bob_page):
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting"
        )
    # Same port: the pages retry the address they know.
    demo_server.start()
    for page in (alice_page, bob_page):
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "open", timeout=15000
        )

    post_comment(alice_page, "Still here?")
    expect(comments(bob_page, "Still here?")).to_have_count(1, timeout=LIVE)
    bob_page.fill("#topic-title", "Back online")
    bob_page.click("#topic-form button[type=submit]")
    expect(topics(alice_page, "Back online")).to_have_count(1, timeout=LIVE)


CLIENT_SETUP = """async () => {
    const config = JSON.parse(document.getElementById("demo-config").textContent);
    const { RealtimeClient, RequestError } = await import(config.clientUrl);
    window.RequestError = RequestError;
    window.states = [];
    window.client = new RealtimeClient("/ws/", {
        minDelay: 200, onStateChange: ({ state }) => window.states.push(state),
    });
    // Sent before the socket is open: it waits for the connection.
    return (await client.request("topics", "list")).status;
}"""

REFUSALS = """async ({ topic }) => {
    const refusal = (promise) => promise.then(
        (frame) => ["resolved", frame.status],
        (error) => [error instanceof RequestError, error.status, error.frame?.data],
    );
    const unsubscribe = client.subscribe("topics", { nope: 1 }, () => {});
    return {
        missing: await refusal(client.request("topics", "retrieve", { lookup: 0 })),
        invalid: await refusal(client.request("comments", "create", {
            payload: { topic, text: "" },
        })),
        unknownStream: await refusal(client.request("nope", "list")),
        badFilter: await refusal(unsubscribe.ready),
    };
}"""

WHILE_DOWN = """() => {
    // One request may wait long enough for the server, one may not.
    window.waiting = client.request("topics", "list", { timeout: 20000 });
    return client.request("topics", "list", { timeout: 300 }).then(
        () => "resolved",
        (error) => [error.frame, error.message],
    );
}"""


def test_the_client_api(open_page, demo_server, alice, topic):
    """realtime.js: requests wait for the connection, error statuses and
    timeouts reject (with the response frame when there is one)."""
    page = open_page(alice)
    assert page.evaluate(CLIENT_SETUP) == 200
    refusals = page.evaluate(REFUSALS, {"topic": topic.pk})
    assert refusals["missing"][:2] == [True, 404]
    assert "detail" in refusals["missing"][2]
    assert refusals["invalid"] == [
        True,
        400,
        {"text": ["This field may not be blank."]},
    ]
    assert refusals["unknownStream"][:2] == [True, 404]
    assert refusals["badFilter"][:2] == [True, 400]
    assert "'nope'" in refusals["badFilter"][2]["detail"]

    demo_server.stop()
    page.wait_for_function("window.states.at(-1) === 'reconnecting'")
    frame, message = page.evaluate(WHILE_DOWN)
    assert frame is None
    assert "within 300 ms" in message
    demo_server.start()
    assert page.evaluate("window.waiting.then((frame) => frame.status)") == 200
    assert page.evaluate("window.states")[:2] == ["connecting", "open"]
    assert page.evaluate("window.states.at(-1)") == "open"


def test_the_owner_closes_a_topic_and_it_takes_no_more_comments(
    open_page, alice, bob, topic
):
    """The Close button (the view's `close` @action over the socket): bob's
    page shows the topic closed, and his comment there is refused."""
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}")
    expect(topics(bob_page, "Lunch").locator("button.close")).to_have_count(0)

    topics(alice_page, "Lunch").locator("button.close").click()
    closed = topics(bob_page, "Lunch").locator(".badge", has_text="closed")
    expect(closed).to_have_count(1, timeout=LIVE)
    expect(topics(alice_page, "Lunch").locator("button.close")).to_have_count(0)

    post_comment(bob_page, "Too late?")
    errors = bob_page.locator('#comment-form .errors[data-for="topic"]')
    expect(errors).to_have_text(
        "This topic is closed: it takes no new comments.", timeout=LIVE
    )
    assert not Comment.objects.filter(text="Too late?").exists()
    assert Topic.objects.get(pk=topic.pk).closed
