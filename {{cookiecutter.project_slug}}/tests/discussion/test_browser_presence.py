"""Presence in a real browser: who else reads the open topic, who is typing.

Two users on the demo page (realtime.js `client.presence`); screenshots go
to test-artifacts/browser/<test>/, as in test_browser.py.
"""

import pytest

from discussion.models import Topic

from . import browser as fixtures
from .browser import LIVE, expect

chromium, demo_server, open_page = (
    fixtures.chromium,
    fixtures.demo_server,
    fixtures.open_page,
)

pytestmark = pytest.mark.django_db(transaction=True)

ALONE = "Nobody else is reading this topic."


def test_the_page_shows_who_reads_the_topic_and_who_is_typing(open_page, alice, bob):
    """bob opens alice's topic: each sees the other (an anonymous reader is
    neither shown nor shown anyone); bob types and alice sees it until he
    posts; bob opens another topic and alice is alone again."""
    lunch = Topic.objects.create(title="Lunch", owner=alice)
    Topic.objects.create(title="Dinner", owner=alice)
    alice_page = open_page(alice, f"/#topic={lunch.pk}")
    expect(alice_page.locator("#viewers")).to_have_text(ALONE)
    anonymous = open_page(None, f"/#topic={lunch.pk}")
    expect(anonymous.locator("#comments-heading")).to_have_text("Lunch")
    expect(anonymous.locator("#viewers")).to_be_hidden()

    bob_page = open_page(bob, f"/#topic={lunch.pk}")
    expect(alice_page.locator("#viewers")).to_have_text(
        "Also reading: bob", timeout=LIVE
    )
    expect(bob_page.locator("#viewers")).to_have_text("Also reading: alice")

    bob_page.locator("#comment-text").press_sequentially("Pasta?", delay=30)
    expect(alice_page.locator("#typing")).to_have_text("bob is typing…", timeout=LIVE)
    expect(bob_page.locator("#typing")).to_have_text("")  # Not to the sender.
    bob_page.click("#comment-form button[type=submit]")
    expect(alice_page.locator("#comments > li", has_text="Pasta?")).to_have_count(
        1, timeout=LIVE
    )
    expect(alice_page.locator("#typing")).to_have_text("", timeout=LIVE)

    bob_page.locator("#topics > li", has_text="Dinner").click()
    expect(bob_page.locator("#viewers")).to_have_text(ALONE)
    expect(alice_page.locator("#viewers")).to_have_text(ALONE, timeout=LIVE)
