"""realtime.js on a page of another origin: a ticket per connection."""

import pytest

from realtime_api.auth import tickets

from . import browser as fixtures
from .browser import start_demo_server

chromium, demo_server, open_page = (
    fixtures.chromium,
    fixtures.demo_server,
    fixtures.open_page,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The page is served by demo_server at http://127.0.0.1:<port>; the API
# server allows that origin for tickets only (its ALLOWED_HOSTS: localhost).
CONNECT = """async ({ url }) => {
    const socket = new WebSocket(url);
    return await new Promise((resolve) => {
        socket.onopen = () => { socket.close(); resolve("open"); };
        socket.onclose = () => resolve("refused");
    });
}"""
TICKET_CLIENT = """async ({ url, tickets }) => {
    const { RealtimeClient } = await import("/static/realtime_api/realtime.js");
    window.states = [];
    window.client = new RealtimeClient(url, {
        minDelay: 200,
        ticket: async () => tickets.shift(),
        onStateChange: ({ state }) => window.states.push(state),
    });
    const created = await client.request("topics", "create", {
        payload: { title: "From another origin" },
    });
    return created.data.owner;
}"""


@pytest.fixture
def api_server(demo_server):
    """The API on another origin, allowing demo_server's pages to use tickets."""
    server = start_demo_server(
        {
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "REALTIME_API_ALLOWED_ORIGINS": demo_server.http_url,
        }
    )
    yield server
    server.stop()


def test_a_page_on_another_origin_connects_with_a_ticket_per_connection(
    open_page, api_server, alice
):
    """No cookie reaches the API from there: each connection spends a ticket,
    the reconnect after a restart included."""
    url = f"ws://localhost:{api_server.port}/ws/"
    # One a connection attempt (those made while the server is down too).
    fresh = [tickets.issue(alice)[0] for _ in range(30)]
    page = open_page()
    assert page.evaluate(CONNECT, {"url": url}) == "refused"
    assert page.evaluate(TICKET_CLIENT, {"url": url, "tickets": fresh}) == "alice"

    api_server.stop()
    page.wait_for_function("window.states.at(-1) === 'reconnecting'")
    api_server.start()
    page.wait_for_function("window.states.at(-1) === 'open'")
    listed = page.evaluate("client.request('topics', 'list').then((f) => f.status)")
    assert listed == 200
