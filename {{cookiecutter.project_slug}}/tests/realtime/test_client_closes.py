"""The clients on the overload close codes: 4009 resumes with `since`, 4008
comes back slower. Both clients, the Python one and realtime.js (under node),
against a scripted server that closes the first socket with the code.
"""

import asyncio
import json

import pytest
import websockets
from django.conf import settings

from realtime_api.client import RealtimeClient
from realtime_api.testing.live_server import free_port

from .helpers import run_node

REALTIME_JS = settings.BASE_DIR / "realtime_api" / "static" / "realtime_api"


class ScriptedServer:
    """Answers subscribe; on the first socket sends an event (seq 5), then closes."""

    def __init__(self, code):
        self.code = code
        self.sockets = []  # The frames each socket sent.
        self.port = free_port()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ws/"

    async def handle(self, ws):
        frames = []
        self.sockets.append(frames)
        async for text in ws:
            frame = json.loads(text)
            frames.append(frame)
            resumed = {"resumed": True} if "since" in frame else {}
            await ws.send(
                json.dumps(
                    {
                        "type": "response",
                        "stream": "notes",
                        "action": "subscribe",
                        "request_id": frame.get("request_id"),
                        "status": 200,
                        "data": {"detail": "subscribed", "matched": 0},
                        **resumed,
                    }
                )
            )
            if len(self.sockets) == 1:
                event = {"type": "event", "stream": "notes", "action": "create"}
                await ws.send(json.dumps({**event, "seq": 5, "data": {"id": 1}}))
                await ws.close(self.code, "closed by the test")
                return

    async def resubscribed(self, timeout=5):
        """The subscribe frame of the second socket."""
        async with asyncio.timeout(timeout):
            while len(self.sockets) < 2 or not self.sockets[1]:
                await asyncio.sleep(0.02)
        return self.sockets[1][0]


@pytest.fixture
async def scripted():
    servers = []

    async def start(code):
        server = ScriptedServer(code)
        servers.append(await websockets.serve(server.handle, "127.0.0.1", server.port))
        return server

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# The Python client ------------------------------------------------------------------


async def test_python_client_resumes_with_since_after_4009(scripted):
    """Closed as a slow consumer, it reconnects and subscribes with `since`."""
    server = await scripted(4009)
    states = []
    client = RealtimeClient(
        server.url,
        min_delay=0.05,
        max_delay=0.1,
        on_state_change=lambda state, info: states.append((state, info["code"])),
    )
    async with client:
        events = await client.subscribe("notes", {"folder": 1})
        assert (await events.next(timeout=5))["seq"] == 5
        again = await server.resubscribed()
        assert (again["stream"], again["since"]) == ("notes/subscribe/", 5)
    assert ("reconnecting", 4009) in states


async def test_python_client_waits_5_s_after_4008(scripted):
    """Closed for flooding, it reconnects no sooner than 5 s."""
    server = await scripted(4008)
    delays = []
    client = RealtimeClient(
        server.url,
        min_delay=0.05,
        max_delay=0.1,
        on_state_change=lambda state, info: (
            delays.append(info["delay"]) if state == "reconnecting" else None
        ),
    )
    async with client:
        events = await client.subscribe("notes", {"folder": 1})
        await events.next(timeout=5)
        async with asyncio.timeout(5):
            while not delays:
                await asyncio.sleep(0.02)
    assert delays[0] >= 5 and len(server.sockets) == 1


# realtime.js, under node -------------------------------------------------------------

SCRIPT = """
import { RealtimeClient } from "%s";
const client = new RealtimeClient(process.argv[2], {
  minDelay: 50,
  maxDelay: 100,
  onStateChange: ({ state, code, delay }) =>
    console.log(JSON.stringify({ state, code, delay })),
});
client.subscribe("notes", { folder: 1 }, (event) =>
  console.log(JSON.stringify({ seq: event.seq })),
);
setTimeout(() => { client.close(); process.exit(0); }, Number(process.argv[3]));
"""


@pytest.fixture
def node(tmp_path):
    """Run realtime.js in node against a server."""
    script = tmp_path / "client.mjs"
    script.write_text(SCRIPT % (REALTIME_JS / "realtime.js").as_uri())

    async def run(url, milliseconds):
        timeout = milliseconds / 1000 + 10
        return await run_node(script, url, str(milliseconds), timeout=timeout)

    return run


@pytest.mark.live
async def test_realtime_js_resumes_with_since_after_4009(scripted, node):
    """realtime.js reconnects after 4009 and subscribes with `since`."""
    server = await scripted(4009)
    printed = await node(server.url, 1500)
    assert {"seq": 5} in printed
    assert {"state": "reconnecting", "code": 4009} in [
        {"state": p.get("state"), "code": p.get("code")} for p in printed
    ]
    again = await server.resubscribed(timeout=1)
    assert (again["stream"], again["action"], again["since"]) == (
        "notes",
        "subscribe",
        5,
    )


@pytest.mark.live
async def test_realtime_js_waits_5_s_after_4008(scripted, node):
    """realtime.js comes back no sooner than 5 s after 4008."""
    server = await scripted(4008)
    printed = await node(server.url, 1500)
    reconnecting = [p for p in printed if p.get("state") == "reconnecting"]
    assert reconnecting[0]["code"] == 4008 and reconnecting[0]["delay"] >= 5000
    assert len(server.sockets) == 1
