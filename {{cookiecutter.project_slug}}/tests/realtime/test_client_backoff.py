"""The clients' reconnect backoff in a storm (issues 23 and 28; PROTOCOL.md,
"Reconnecting clients").

A socket accepted and dropped at once must not reset the backoff: the delays
grow until a socket stays open `stable_after` seconds. A handshake refused
429 or 503 is retried after Retry-After plus jitter; 403 ends the client.
Both clients, the Python one and realtime.js (under node), against scripted
servers.
"""

import asyncio
import time
from http import HTTPStatus

import pytest
import websockets

from realtime_api.client import Backoff, HandshakeRefused, RealtimeClient
from realtime_api.testing.live_server import free_port

from .helpers import run_node
from .test_client_closes import REALTIME_JS

pytestmark = pytest.mark.timeout(60)


class DroppingServer:
    """Accepts sockets and closes each after `hold` seconds (1012: restarting).

    `refuse` maps a handshake's number (1, 2, ...) to (status, Retry-After).
    """

    def __init__(self, hold=0.0, refuse=None):
        self.hold = hold
        self.refuse = refuse or {}
        self.handshakes = []  # When each arrived (time.monotonic()).
        self.port = free_port()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ws/"

    def process_request(self, connection, request):
        self.handshakes.append(time.monotonic())
        refusal = self.refuse.get(len(self.handshakes))
        if refusal is None:
            return None
        status, retry_after = refusal
        response = connection.respond(HTTPStatus(status), "refused by the test\n")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    async def handle(self, ws):
        await asyncio.sleep(self.hold)
        await ws.close(1012, "restarting")


@pytest.fixture
async def dropping():
    servers = []

    async def start(**options):
        server = DroppingServer(**options)
        serving = await websockets.serve(
            server.handle,
            "127.0.0.1",
            server.port,
            process_request=server.process_request,
        )
        servers.append(serving)
        return server

    yield start
    for serving in servers:
        serving.close()
        await serving.wait_closed()


# The backoff itself ---------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_backoff_grows_while_sockets_are_dropped_at_once():
    """Opened and closed within stable_after: each wait doubles, up to max_delay."""
    clock = Clock()
    backoff = Backoff(0.5, 10.0, stable_after=5, clock=clock)
    ceilings = []
    for _ in range(7):
        backoff.opened()
        clock.now += 1  # Open for a second only.
        delay = backoff.next_delay()
        ceilings.append(delay)
        clock.now += delay
    assert ceilings[0] <= 0.5 and ceilings[-1] >= 5, ceilings


def test_the_backoff_resets_once_a_socket_stayed_open():
    """Open stable_after seconds: the next wait is min_delay's again."""
    clock = Clock()
    backoff = Backoff(0.5, 10.0, stable_after=5, clock=clock)
    for _ in range(5):
        backoff.next_delay()  # Five failed attempts.
    backoff.opened()
    clock.now += 5
    assert backoff.next_delay() <= 0.5


def test_stable_after_0_resets_on_every_open():
    """The clients' old behaviour, for comparison (bench.scale --stable-after 0)."""
    backoff = Backoff(0.5, 10.0, stable_after=0)
    for _ in range(5):
        backoff.opened()
        assert backoff.next_delay() <= 0.5


def test_a_retry_after_is_waited_plus_jitter():
    delays = [Backoff(0.5, 10.0).next_delay(retry_after=2) for _ in range(50)]
    assert all(2 <= delay <= 3 for delay in delays)
    assert len(set(delays)) > 1  # Not all together.


def test_handshake_refused_says_whether_to_retry_and_when():
    assert HandshakeRefused(429, b"", "3").retry_after == 3.0
    assert HandshakeRefused(429).temporary and HandshakeRefused(503).temporary
    forbidden = HandshakeRefused(403)
    assert not forbidden.temporary and forbidden.retry_after is None
    date = "Wed, 21 Oct 2026 07:28:00 GMT"  # Retry-After as a date: not read.
    assert HandshakeRefused(503, b"", date).retry_after is None


# The Python client ------------------------------------------------------------------


def recorder(states):
    return lambda state, info: states.append((state, info["delay"]))


async def reconnect_delays(client, states, count, timeout=20):
    """The first `count` reconnect delays the client chose."""
    async with asyncio.timeout(timeout):
        while len([s for s in states if s[0] == "reconnecting"]) < count:
            await asyncio.sleep(0.02)
    await client.close()
    return [delay for state, delay in states if state == "reconnecting"][:count]


async def test_python_client_backs_off_while_its_sockets_are_dropped(dropping):
    """Each socket accepted then closed at once: the delays grow to max_delay."""
    server = await dropping()
    states = []
    client = RealtimeClient(
        server.url, min_delay=0.05, max_delay=0.4, on_state_change=recorder(states)
    )
    await client.connect()
    delays = await reconnect_delays(client, states, 6)
    assert delays[0] <= 0.05 and delays[-1] >= 0.2, delays


async def test_python_client_with_stable_after_0_retries_at_once(dropping):
    """The old behaviour: every open resets the backoff, every delay is short."""
    server = await dropping()
    states = []
    client = RealtimeClient(
        server.url,
        min_delay=0.05,
        max_delay=0.4,
        stable_after=0,
        on_state_change=recorder(states),
    )
    await client.connect()
    delays = await reconnect_delays(client, states, 6)
    assert max(delays) <= 0.05, delays


async def test_python_client_resets_after_a_socket_that_lasted(dropping):
    """Sockets open longer than stable_after: every delay is min_delay's."""
    server = await dropping(hold=0.3)
    states = []
    client = RealtimeClient(
        server.url,
        min_delay=0.05,
        max_delay=0.4,
        stable_after=0.2,
        on_state_change=recorder(states),
    )
    await client.connect()
    delays = await reconnect_delays(client, states, 4)
    assert max(delays) <= 0.05, delays


@pytest.mark.parametrize("status", [429, 503])
async def test_python_client_retries_a_busy_server_after_retry_after(dropping, status):
    """Refused 429 or 503 with Retry-After: 1, it comes back 1 to 1.5 s later."""
    server = await dropping(hold=0, refuse={2: (status, "1")})
    states = []
    client = RealtimeClient(
        server.url, min_delay=0.05, max_delay=0.1, on_state_change=recorder(states)
    )
    await client.connect()
    async with asyncio.timeout(10):
        while len(server.handshakes) < 3:
            await asyncio.sleep(0.02)
    await client.close()
    waited = server.handshakes[2] - server.handshakes[1]
    assert 1 <= waited <= 1.5 + 0.5, waited  # Plus the time a handshake takes.


async def test_python_client_ends_on_403(dropping):
    """A reconnect refused 403 (credentials): no more attempts."""
    server = await dropping(hold=0, refuse={2: (403, None)})
    client = RealtimeClient(server.url, min_delay=0.05, max_delay=0.1)
    await client.connect()
    async with asyncio.timeout(10):
        while client.state != "closed":
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    assert len(server.handshakes) == 2
    with pytest.raises(HandshakeRefused) as refused:
        await client.request("notes", "list")
    assert refused.value.status == 403 and not refused.value.temporary


# realtime.js, under node -------------------------------------------------------------

SCRIPT = """
import { RealtimeClient } from "%s";
const options = JSON.parse(process.argv[3]);
const client = new RealtimeClient(process.argv[2], {
  minDelay: 50,
  maxDelay: 400,
  ...options,
  onStateChange: ({ state, delay }) => {
    if (state === "reconnecting") console.log(JSON.stringify({ delay }));
  },
});
setTimeout(() => { client.close(); process.exit(0); }, 2500);
"""


@pytest.fixture
def node(tmp_path):
    """Run realtime.js in node against a server, with these options: delays."""
    script = tmp_path / "backoff.mjs"
    script.write_text(SCRIPT % (REALTIME_JS / "realtime.js").as_uri())

    async def run(url, options):
        printed = await run_node(script, url, options, timeout=20)
        return [line["delay"] for line in printed]

    return run


@pytest.mark.live
async def test_realtime_js_backs_off_while_its_sockets_are_dropped(dropping, node):
    """stableAfter (5000 by default): the delays grow as sockets drop at once."""
    server = await dropping()
    delays = await node(server.url, "{}")
    assert len(delays) >= 5 and delays[0] <= 50 and max(delays) >= 200, delays


@pytest.mark.live
async def test_realtime_js_with_stable_after_0_retries_at_once(dropping, node):
    """stableAfter: 0, the old behaviour: every delay is short."""
    server = await dropping()
    delays = await node(server.url, '{"stableAfter": 0}')
    assert len(delays) >= 10 and max(delays) <= 50, delays
