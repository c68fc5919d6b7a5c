"""realtime.js refreshes expiring credentials on its socket (refreshCredentials).

Under node, against a real daphne with SignedExpiringToken (expiring_token.py):
the client opens ticket sockets (with the Origin of a page of the server, as
a browser would) and refreshes the credentials on them, as a page that buys
its tickets with a bearer token does (a browser cannot send an Authorization
header on a WebSocket handshake).
"""

import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from realtime_api.auth import tickets
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing.live_server import DaphneServer

from .expiring_token import bearer
from .helpers import run_node
from .test_live_reauthenticate import SERVER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

REALTIME_JS = settings.BASE_DIR / "realtime_api" / "static" / "realtime_api"
# argv: url, tickets (JSON list), credentials (JSON list), milliseconds to run.
SCRIPT = """
import { RealtimeClient } from "%s";
const [url, tickets, credentials, ms] = process.argv.slice(2);
const ticketsLeft = JSON.parse(tickets), credentialsLeft = JSON.parse(credentials);
const log = (line) => console.log(JSON.stringify(line));
let refreshed = 0;
// A browser sends its page's Origin, which a ticket handshake needs.
const origin = new URL(url.replace(/^ws/, "http")).origin;
class PageWebSocket extends WebSocket {
  constructor(address) {
    super(address, { headers: { origin } });
  }
}
const client = new RealtimeClient(url, {
  WebSocket: PageWebSocket,
  minDelay: 100,
  maxDelay: 200,
  ticket: async () => ticketsLeft.shift(),
  refreshCredentials: async () => {
    refreshed += 1;
    return credentialsLeft.shift() ?? "Bearer no-more";
  },
  onError: (error) => log({ error: error.status ?? String(error) }),
  onStateChange: ({ state, code }) => log({ state, code }),
});
setTimeout(async () => {
  const who = await client.request("bearer-whoami", "list").catch((e) => e);
  log({ username: who.data?.username ?? null, refreshed });
  client.close();
  process.exit(0);
}, Number(ms));
"""


@pytest.fixture
def server(transactional_db):
    started = DaphneServer(**SERVER).start()
    yield started
    started.stop()


@pytest.fixture
def node(tmp_path):
    """Run the script in node against a server."""
    script = tmp_path / "refresh.mjs"
    script.write_text(SCRIPT % (REALTIME_JS / "realtime.js").as_uri())

    async def run(url, ticket_list, credentials, milliseconds):
        arguments = [url, json.dumps(ticket_list), json.dumps(credentials)]
        arguments.append(str(milliseconds))
        return await run_node(script, *arguments, timeout=milliseconds / 1000 + 20)

    return run


async def fresh_tickets(user, count):
    return [
        (await database_sync_to_async(tickets.issue)(user))[0] for _ in range(count)
    ]


@pytest.mark.live
async def test_realtime_js_keeps_its_socket_past_each_expiry(server, node, user):
    """Tokens of 2.5 s, 4 s, 5.5 s, ...: refreshed before each expiry, the one
    socket stays open for 5 s (no 4001, no reconnect)."""
    credentials = [bearer(user, 2.5 + 1.5 * number) for number in range(12)]
    printed = await node(
        f"{server.url}/ws/", await fresh_tickets(user, 3), credentials, 5000
    )
    states = [line for line in printed if "state" in line]
    assert {"state": "reconnecting", "code": CLOSE_CODE} not in states, printed
    assert [s["state"] for s in states] == ["connecting", "open", "closed"], printed
    [summary] = [line for line in printed if "refreshed" in line]
    assert summary["username"] == user.username
    assert summary["refreshed"] >= 3, printed


@pytest.mark.live
async def test_realtime_js_reconnects_when_refreshing_fails(server, node, user):
    """Refused fresh credentials (403, reported to onError): the socket closes
    4001 at the expiry of the last good ones, and the client reconnects with
    its next ticket.

    The first token is minted before node starts: its 4 s leave node time to
    start and send it on a loaded machine (sent expired, it is refused 403
    and the socket keeps its ticket's credentials, with no expiry to close at).
    """
    credentials = [bearer(user, 4), "Bearer forged", "Bearer forged"]
    printed = await node(
        f"{server.url}/ws/", await fresh_tickets(user, 3), credentials, 7000
    )
    assert {"error": 403} in printed, printed
    assert {"state": "reconnecting", "code": CLOSE_CODE} in printed, printed
    states = [line["state"] for line in printed if "state" in line]
    assert states.count("open") >= 2, printed
