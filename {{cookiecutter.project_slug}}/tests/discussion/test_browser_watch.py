"""Live queries and resuming in a real browser: the demo page and realtime.js.

The demo page's lists are live queries (`client.watch`): a comment edited out
of the page's search leaves it, and after a server restart the page shows
what changed meanwhile, once. At the JavaScript level: a subscription
resumes with `since` and gets what it missed exactly once, in seq order, or
is reset when the server's log no longer holds it; a watch keeps its items
in the query's order. Screenshots go to test-artifacts/browser/<test>/, as
in test_browser.py.
"""

import pytest

from discussion.models import Comment, Topic

from . import browser as fixtures
from .browser import LIVE, comments, expect

chromium, demo_server, open_page = (
    fixtures.chromium,
    fixtures.demo_server,
    fixtures.open_page,
)

pytestmark = pytest.mark.django_db(transaction=True)


def comment_item(page, comment_id):
    """The page's item of one comment, by id (found while it is edited, too)."""
    return page.locator(f'#comments > li[data-id="{comment_id}"]')


def comment_texts(page):
    return page.locator("#comments > li .text").all_text_contents()


def edit_comment(page, comment_id, text):
    item = comment_item(page, comment_id)
    item.locator("button.edit").click()
    item.locator("textarea[name=text]").fill(text)
    item.locator("button[type=submit]").click()
    expect(item.locator("form.edit")).to_have_count(0)


def post_comment(page, text):
    page.fill("#comment-text", text)
    page.click("#comment-form button[type=submit]")
    expect(page.locator("#comment-text")).to_have_value("")


def wait_live(page):
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "open", timeout=15000
    )


@pytest.fixture
def topic(alice):
    """A public topic of alice's, with two comments."""
    topic = Topic.objects.create(title="Lunch", owner=alice)
    Comment.objects.create(topic=topic, author=alice, text="Pizza?")
    Comment.objects.create(topic=topic, author=alice, text="Or pasta")
    return topic


def test_a_comment_edited_out_of_the_search_leaves_the_other_page(
    open_page, alice, bob, topic
):
    """With a search in bob's page, alice's edit that stops a comment from
    matching takes it away; editing it back brings it back; a new comment
    enters only if it matches."""
    pizza = Comment.objects.get(text="Pizza?")
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}")
    expect(comments(bob_page)).to_have_count(2)

    bob_page.fill("#comment-search", "pizza")
    expect(comments(bob_page)).to_have_count(1)
    expect(comments(bob_page, "Pizza?")).to_have_count(1)
    assert "search=pizza" in bob_page.url  # A link to the search.

    edit_comment(alice_page, pizza.pk, "Sushi?")
    expect(comments(bob_page)).to_have_count(0, timeout=LIVE)
    expect(bob_page.locator("#comments-empty")).to_have_text(
        "No comments match “pizza”."
    )
    expect(comments(alice_page, "Sushi?")).to_have_count(1)  # No search there.

    edit_comment(alice_page, pizza.pk, "Pizza, then")
    expect(comments(bob_page, "Pizza, then")).to_have_count(1, timeout=LIVE)
    expect(bob_page.locator("#comments-empty")).to_be_hidden()

    # New comments: one that matches enters, in order; one that does not, not.
    post_comment(alice_page, "Burgers")
    post_comment(alice_page, "More pizza")
    expect(comments(bob_page, "More pizza")).to_have_count(1, timeout=LIVE)
    assert comment_texts(bob_page) == ["Pizza, then", "More pizza"]
    expect(comments(alice_page)).to_have_count(4)

    # Clearing the search shows them all again, oldest first.
    bob_page.fill("#comment-search", "")
    expect(comments(bob_page)).to_have_count(4)
    assert comment_texts(bob_page) == [
        "Pizza, then",
        "Or pasta",
        "Burgers",
        "More pizza",
    ]


def test_a_search_from_the_address_and_a_delete(open_page, alice, bob, topic):
    """`#topic=<id>&search=<text>` opens the topic with that search; a
    deleted comment leaves the search's list."""
    alice_page = open_page(alice, f"/#topic={topic.pk}")
    bob_page = open_page(bob, f"/#topic={topic.pk}&search=pasta")
    expect(bob_page.locator("#comment-search")).to_have_value("pasta")
    expect(comments(bob_page)).to_have_count(1)
    expect(comments(bob_page, "Or pasta")).to_have_count(1)

    comments(alice_page, "Or pasta").locator("button.delete").click()
    expect(comments(bob_page)).to_have_count(0, timeout=LIVE)
    expect(comments(alice_page)).to_have_count(1, timeout=LIVE)


@pytest.mark.redis
def test_the_page_misses_nothing_while_its_server_restarts(
    open_page, demo_server, alice, bob, topic
):
    """Two servers share Redis. Alice's page is on server A, bob's on B.
    While A is down, bob comments and edits through B; when A is back,
    alice's page shows both, once, and a subscription of its client resumes
    with `since` and gets exactly the missed events, in order."""
    server_b = fixtures.start_demo_server()
    try:
        pizza = Comment.objects.get(text="Pizza?")
        alice_page = open_page(alice, f"/#topic={topic.pk}", label="alice-on-A")
        bob_page = open_page(
            bob, f"{server_b.http_url}/#topic={topic.pk}", label="bob-on-B"
        )
        alice_page.evaluate(RECORDING_CLIENT, {"minDelay": 200, "maxDelay": 1000})
        alice_page.evaluate(SUBSCRIBE, {"topic": topic.pk})

        post_comment(bob_page, "Before")
        expect(comments(alice_page, "Before")).to_have_count(1, timeout=LIVE)
        alice_page.wait_for_function("window.events.length === 1")

        demo_server.stop()
        expect(alice_page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting"
        )
        post_comment(bob_page, "While you were away")
        # Alice's comment, edited by its author through server B meanwhile.
        alice_on_b = open_page(
            alice, f"{server_b.http_url}/#topic={topic.pk}", label="alice-on-B"
        )
        edit_comment(alice_on_b, pizza.pk, "Pizza!")
        expect(comments(bob_page, "Pizza!")).to_have_count(1, timeout=LIVE)
        expect(comments(bob_page, "While you were away")).to_have_count(1)

        demo_server.start()  # Same port: the page retries the address it knows.
        wait_live(alice_page)
        expect(comments(alice_page, "While you were away")).to_have_count(
            1, timeout=LIVE
        )
        expect(comments(alice_page, "Pizza!")).to_have_count(1)
        expect(comments(alice_page, "Pizza?")).to_have_count(0)
        assert comment_texts(alice_page) == [
            "Pizza!",
            "Or pasta",
            "Before",
            "While you were away",
        ]
        ids = alice_page.locator("#comments > li").evaluate_all(
            "(items) => items.map((li) => li.dataset.id)"
        )
        assert len(ids) == len(set(ids)) == 4  # No duplicate rows.

        # The subscription: the two missed events, once, in seq order.
        alice_page.wait_for_function("window.events.length >= 3")
        post_comment(bob_page, "After")
        expect(comments(alice_page, "After")).to_have_count(1, timeout=LIVE)
        alice_page.wait_for_function("window.events.length >= 4")
        recorded = alice_page.evaluate("window.record()")
        assert [(e["action"], e["text"]) for e in recorded["events"]] == [
            ("create", "Before"),
            ("create", "While you were away"),
            ("update", "Pizza!"),
            ("create", "After"),
        ]
        seqs = [e["seq"] for e in recorded["events"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == 4
        assert recorded["resets"] == []
        resubscribe = recorded["subscribes"][1]
        assert resubscribe["since"] == seqs[0]
        assert recorded["answers"][1]["resumed"] is True
    finally:
        server_b.stop()


# A client of its own in the page, recording what it sends and receives:
# window.client, window.writer (another socket, for changes), window.record().
RECORDING_CLIENT = """async ({ minDelay, maxDelay = 10000 }) => {
    const config = JSON.parse(document.getElementById("demo-config").textContent);
    const { RealtimeClient } = await import(config.clientUrl);
    window.sent = [];
    window.received = [];
    window.events = [];
    window.resets = [];
    class RecordingSocket extends WebSocket {
        constructor(url) {
            super(url);
            this.addEventListener("message", (message) => {
                window.received.push(JSON.parse(message.data));
            });
        }
        send(text) {
            window.sent.push(JSON.parse(text));
            super.send(text);
        }
    }
    window.client = new RealtimeClient("/ws/", {
        WebSocket: RecordingSocket, minDelay, maxDelay,
    });
    window.writer = new RealtimeClient("/ws/");
    window.record = () => ({
        events: window.events,
        resets: window.resets,
        subscribes: window.sent.filter((frame) => frame.action === "subscribe"),
        answers: window.received.filter(
            (frame) => frame.type === "response" && frame.action === "subscribe",
        ),
    });
}"""

SUBSCRIBE = """async ({ topic }) => {
    const unsubscribe = client.subscribe(
        "comments",
        { topic },
        (event) => window.events.push({
            action: event.action, seq: event.seq, id: event.data.id,
            text: event.data.text,
        }),
        { onReset: (info) => window.resets.push(info) },
    );
    return (await unsubscribe.ready).status;
}"""

# Drop the socket; the next attempt waits for window.client.retryNow().
DISCONNECT = """async () => {
    client.options.minDelay = client.options.maxDelay = 600000;
    const closed = new Promise((resolve) => {
        const stop = client.onStateChange(({ state }) => {
            if (state === "reconnecting") { resolve(); queueMicrotask(() => stop()); }
        });
    });
    client.socket.close();
    await closed;
    client.options.minDelay = 200;
    client.options.maxDelay = 1000;
}"""

WRITE = """async ({ topic, texts, edit }) => {
    const ids = [];
    for (const text of texts) {
        const frame = await writer.request("comments", "create", {
            payload: { topic, text },
        });
        ids.push(frame.data.id);
    }
    if (edit) {
        await writer.request("comments", "update", {
            lookup: edit.id ?? ids[edit.index], payload: { text: edit.text },
        });
    }
    return ids;
}"""

RECONNECT = """async () => {
    const open = new Promise((resolve) => {
        const stop = client.onStateChange(({ state }) => {
            if (state === "open") { resolve(); queueMicrotask(() => stop()); }
        });
    });
    client.retryNow();
    await open;
}"""


def test_a_subscription_resumes_with_since_once_and_in_order(open_page, alice, topic):
    """After a reconnect the subscription is sent with `since`, the last seq
    seen; each object changed meanwhile arrives once, as it is now, in the
    order of its last change; then the live events; nothing is reset."""
    page = open_page(alice)
    page.evaluate(RECORDING_CLIENT, {"minDelay": 200})
    assert page.evaluate(SUBSCRIBE, {"topic": topic.pk}) == 200
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["seen"]})
    page.wait_for_function("window.events.length === 1")

    page.evaluate(DISCONNECT)
    ids = page.evaluate(
        WRITE,
        {
            "topic": topic.pk,
            "texts": ["missed 1", "missed 2"],
            "edit": {"index": 0, "text": "missed 1, edited"},
        },
    )
    page.evaluate(RECONNECT)
    page.wait_for_function("window.events.length >= 3")
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["live"]})
    page.wait_for_function("window.events.length >= 4")
    page.wait_for_timeout(300)  # A duplicate would arrive by now.

    recorded = page.evaluate("window.record()")
    events = recorded["events"]
    assert [(e["action"], e["text"]) for e in events] == [
        ("create", "seen"),
        ("create", "missed 2"),
        ("create", "missed 1, edited"),
        ("create", "live"),
    ]
    assert [e["id"] for e in events[1:3]] == [ids[1], ids[0]]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    first, again = recorded["subscribes"]
    assert "since" not in first
    assert again["since"] == seqs[0]
    assert again["payload"] == {"topic": topic.pk}
    assert recorded["answers"][1]["resumed"] is True
    assert recorded["resets"] == []


@pytest.mark.parametrize(
    "demo_server", [{"REALTIME_API_EVENT_LOG_SIZE": "1"}], indirect=True
)
def test_a_subscription_too_old_to_resume_is_reset(open_page, alice, topic):
    """With a log of one event, two missed events cannot be replayed: the
    server answers "too old", and the subscription's onReset is called (the
    app reads again); the subscription is live again all the same."""
    page = open_page(alice)
    page.evaluate(RECORDING_CLIENT, {"minDelay": 200})
    assert page.evaluate(SUBSCRIBE, {"topic": topic.pk}) == 200
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["seen"]})
    page.wait_for_function("window.events.length === 1")

    page.evaluate(DISCONNECT)
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["lost 1", "lost 2"]})
    page.evaluate(RECONNECT)
    page.wait_for_function("window.resets.length === 1")
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["live"]})
    page.wait_for_function("window.events.length >= 2")
    page.wait_for_timeout(300)

    recorded = page.evaluate("window.record()")
    assert [e["text"] for e in recorded["events"]] == ["seen", "live"]
    assert recorded["resets"] == [
        {"stream": "comments", "filter": {"topic": topic.pk}, "reason": "too old"}
    ]
    answer = recorded["answers"][1]
    assert (answer["resumed"], answer["reason"]) == (False, "too old")


WATCH = """async ({ params }) => {
    window.calls = [];
    const texts = (items) => items.map((item) => item.text);
    const call = (...args) => calls.push(args);
    window.live = client.watch("comments", params, {
        onReset: (items, { reconnect }) => call("reset", reconnect, texts(items)),
        onEnter: (item, index, items) => call("enter", item.text, index, texts(items)),
        onUpdate: (item, previous, index, items) =>
            call("update", previous.text, item.text, index, texts(items)),
        onLeave: (previous, items) => call("leave", previous.text, texts(items)),
    });
    return texts(await live.ready);
}"""


def test_a_watch_keeps_its_items_in_the_query_s_order(open_page, alice, topic):
    """realtime.js `watch`: the snapshot, then enter/update/leave placed by
    the `ordering` param (ties by id); after a reconnect a fresh snapshot
    (onReset) that includes what changed meanwhile; unwatch() ends it."""
    page = open_page(alice)
    page.evaluate(RECORDING_CLIENT, {"minDelay": 200})
    # Most recently changed first: an edit moves a comment to the top.
    params = {"topic": topic.pk, "search": "fruit", "ordering": "-updated"}
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["fruit: banana"]})
    assert page.evaluate(WATCH, {"params": params}) == ["fruit: banana"]

    ids = page.evaluate(
        WRITE,
        {
            "topic": topic.pk,
            "texts": ["fruit: cherry", "veg: kale", "fruit: apple"],
            "edit": {"index": 0, "text": "fruit: cherry pie"},
        },
    )
    page.wait_for_function("window.calls.length >= 4")
    apple_leaves = {"id": ids[2], "text": "veg: apple"}
    page.evaluate(WRITE, {"topic": topic.pk, "texts": [], "edit": apple_leaves})
    page.wait_for_function("window.calls.length >= 5")
    assert page.evaluate("window.calls") == [
        ["reset", False, ["fruit: banana"]],
        ["enter", "fruit: cherry", 0, ["fruit: cherry", "fruit: banana"]],
        [
            "enter",
            "fruit: apple",
            0,
            ["fruit: apple", "fruit: cherry", "fruit: banana"],
        ],
        [
            "update",
            "fruit: cherry",
            "fruit: cherry pie",
            0,
            ["fruit: cherry pie", "fruit: apple", "fruit: banana"],
        ],
        ["leave", "fruit: apple", ["fruit: cherry pie", "fruit: banana"]],
    ]

    # Missed while disconnected: the fresh snapshot has it, in order.
    page.evaluate(DISCONNECT)
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["fruit: fig"]})
    page.evaluate(RECONNECT)
    page.wait_for_function("window.calls.length >= 6")
    assert page.evaluate("window.calls.at(-1)") == [
        "reset",
        True,
        ["fruit: fig", "fruit: cherry pie", "fruit: banana"],
    ]
    watches = [f for f in page.evaluate("window.sent") if f["action"] == "watch"]
    assert len(watches) == 2 and watches[1]["payload"] == params

    # Ended: no more calls, and the server forgot it.
    page.evaluate("window.live.unwatch()")
    page.evaluate(WRITE, {"topic": topic.pk, "texts": ["fruit: grape"]})
    page.wait_for_timeout(300)
    assert len(page.evaluate("window.calls")) == 6
    unwatch = [
        f for f in page.evaluate("window.received") if f.get("action") == "unwatch"
    ]
    assert unwatch[0]["status"] == 200
