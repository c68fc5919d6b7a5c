"""Fixtures of the browser tests: the system Chromium driven by Playwright.

No browser is ever downloaded: the tests use Chromium from the system
(`/usr/bin/chromium`, `chromium` on PATH, or CHROMIUM_PATH). Without it, or
without the `playwright` package, the tests are skipped on a developer
machine and fail when the CI variable is set.

Each page gets a screenshot at the end of its test, passed or failed, in
`test-artifacts/browser/` (git ignores that folder).
"""

import os
import re
import shutil

import pytest
from django.conf import settings

from realtime_api.testing import create_session
from realtime_api.testing.live_server import DaphneServer
from tests.conftest import running_in_ci

# Headless, and nothing that reaches out to the network on its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def find_chromium():
    """Return the path of the system Chromium, or None."""
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in ("chromium", "chromium-browser")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def skip_or_fail(reason):
    """Skip, or fail when CI is set: CI must not pass by skipping."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """The path of the system Chromium; skips (fails in CI) without it or Playwright."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail('needs Playwright: pip install -e ".[dev]" (no browser download)')
    executable = find_chromium()
    if executable is None:
        skip_or_fail(
            "needs Chromium: install it (Debian: apt-get install chromium) "
            "or set CHROMIUM_PATH"
        )
    return executable


def start_demo_server(env=None):
    """Start a daphne process serving the demo page, its static files and /ws/.

    `env` adds to the process's environment (e.g. a tiny event log). With
    REDIS_URL set, every such process shares the channel layer and the log.
    """
    server = DaphneServer(
        application="tests.discussion.static_asgi:application", env=env
    )
    server.env.pop(ASYNC_UNSAFE, None)  # The server keeps Django's check.
    server.start()
    server.http_url = server.url.replace("ws://", "http://")
    return server


@pytest.fixture
def demo_server(transactional_db, request):
    """A daphne process serving the demo page, its static files and /ws/.

    `stop()` then `start()` restarts it on the same port. Parametrize it
    indirectly with a dict to add to the server's environment.
    """
    server = start_demo_server(getattr(request, "param", None))
    yield server
    server.stop()


@pytest.fixture
def open_page(chromium, demo_server, request):
    """Open the demo page as a user (None: anonymous); wait until it is live.

    `open_page(user, path="/", label=None)` returns a Playwright page in a
    browser context of its own (its own cookies: another browser, in effect).
    Errors thrown by the page's scripts fail the test.

    Chromium starts at the first call, so that the test's data exists by
    then: while Playwright's sync API runs, an asyncio loop is set on this
    thread, Django refuses ORM calls (allowed below: Playwright's advice for
    Django; nothing async runs them) and a save could not send its event.
    Playwright gives the browser a new, empty profile, deleted at the end.
    """
    from playwright.sync_api import expect, sync_playwright

    running = {}
    opened = []

    def open_(user=None, path="/", label=None):
        if not running:
            running["playwright"] = sync_playwright().start()
            running["browser"] = running["playwright"].chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS
            )
        context = running["browser"].new_context(base_url=demo_server.http_url)
        if user is not None:
            cookie = {
                "name": settings.SESSION_COOKIE_NAME,
                "value": create_session(user),
                "url": demo_server.http_url,
            }
            context.add_cookies([cookie])
        context.set_default_timeout(10_000)  # Fail fast: 30 s by default.
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(error))
        opened.append((label or (user.username if user else "anonymous"), page))
        page.goto(path)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        return page

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASYNC_UNSAFE, "true")
        try:
            yield open_
        finally:
            errors = save_screenshots(opened, request)
            if running:
                running["browser"].close()
                running["playwright"].stop()
    assert not errors, f"The page's scripts failed: {errors}"


def save_screenshots(opened, request):
    """Save a screenshot of each page; return the errors the pages threw."""
    folder = request.config.rootpath / "test-artifacts" / "browser"
    folder /= re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for label, page in opened:
        page.screenshot(path=folder / f"{label}.png", full_page=True)
        errors += [f"{label}: {error}" for error in page.errors]
    return errors


# Shared by the browser tests -------------------------------------------------

LIVE = 2000  # ms: how soon a change must show in the other page


def expect(locator):
    """Playwright's expect, imported when used (playwright may be missing)."""
    from playwright.sync_api import expect

    return expect(locator)


def comments(page, text=None):
    """The page's comment items (those containing `text`)."""
    return page.locator("#comments > li", has_text=text)
