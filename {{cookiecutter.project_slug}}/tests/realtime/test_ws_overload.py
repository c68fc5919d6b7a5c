"""PROTOCOL.md's "Limits and overload", in process: flood control and limits.

Frames are counted as they arrive (not when they are served), refused frames
are answered 429 in order and never run, a socket that goes on flooding is
closed with 4008, subscriptions and watches per socket are limited, and a
socket whose outbox overflows is closed with 4009. The same against a real
daphne: test_live_overload.py.
"""

import asyncio
import json
import time

import pytest

from config.asgi import application
from realtime_api.limits.flood import FloodLedger
from realtime_api.sockets.server_transport import SCOPE_KEY, Transport
from realtime_api.streams import endpoints
from realtime_api.testing import subscribe, unsubscribe, watch

from .helpers import assert_still_open, communicator, rows, snapshot
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


def frame(stream, payload=None, request_id=None):
    return json.dumps(
        {"stream": stream, "payload": payload or {}, "request_id": request_id}
    )


async def send_all(ws, frames):
    """Send frames without waiting for answers, as a pipelining client does."""
    for text in frames:
        await ws.send_to(text_data=text)


async def answers_until_close(ws, timeout=5):
    """Every frame the server sends, then its close code (None: still open)."""
    received = []
    async with asyncio.timeout(timeout):
        while True:
            try:
                message = await ws.receive_output(timeout)
            except TimeoutError:
                return received, None
            if message["type"] == "websocket.close":
                return received, message.get("code")
            received.append(json.loads(message["text"]))


async def answers(ws, count):
    return [json.loads(await ws.receive_from(5)) for _ in range(count)]


@pytest.fixture
def slow_requests(monkeypatch):
    """Every REST request of a socket takes `seconds` in the database thread."""
    dispatch = endpoints.Endpoint.dispatch

    def slow(seconds):
        def sleepy(self, *args):
            time.sleep(seconds)
            return dispatch(self, *args)

        monkeypatch.setattr(endpoints.Endpoint, "dispatch", sleepy)

    return slow


# Flood control ------------------------------------------------------------------


async def test_frames_over_the_rate_are_429_with_wait_and_not_run(user, settings):
    """Past the burst, frames are answered 429 with `wait`, in order, and not run."""
    settings.REALTIME_API_FRAME_RATE = 1
    settings.REALTIME_API_FRAME_BURST = 3
    before = len(await rows(Folder))
    async with communicator(user) as ws:
        creates = [frame("folders/create/", {"name": f"f{i}"}, i) for i in range(5)]
        await send_all(ws, creates)
        replies = await answers(ws, 5)
        assert [r["request_id"] for r in replies] == [0, 1, 2, 3, 4]
        assert [r["status"] for r in replies] == [201, 201, 201, 429, 429]
        for refused in replies[3:]:
            assert (refused["stream"], refused["action"]) == ("folders", "create")
            assert 0 < refused["data"]["wait"] <= 1
            assert "REALTIME_API_FRAME_RATE" in refused["data"]["detail"]
    assert len(await rows(Folder)) == before + 3


async def test_the_rate_is_counted_as_frames_arrive(user, settings, slow_requests):
    """Frames sent at once count at once, though each is served much later."""
    settings.REALTIME_API_FRAME_RATE = 2
    settings.REALTIME_API_FRAME_BURST = 2
    slow_requests(0.6)  # Served at 0, 0.6, 1.2 s: a served-time rate lets all by.
    async with communicator(user) as ws:
        await send_all(ws, [frame("folders/list/", request_id=i) for i in range(4)])
        replies = await answers(ws, 4)
    assert [r["status"] for r in replies] == [200, 200, 429, 429]


async def test_a_socket_that_goes_on_flooding_is_closed_4008(user, settings):
    """After its refusals run out the socket is closed; later frames never run."""
    settings.REALTIME_API_FRAME_RATE = 1
    settings.REALTIME_API_FRAME_BURST = 3
    before = len(await rows(Folder))
    async with communicator(user) as flooder, communicator(user) as other:
        creates = [frame("folders/create/", {"name": f"f{i}"}, i) for i in range(50)]
        await send_all(flooder, creates)
        received, code = await answers_until_close(flooder)
        assert code == 4008
        # Closed at once: frames still waiting never run, answers still
        # waiting are dropped. At most the burst ran.
        statuses = [r["status"] for r in received]
        answered = statuses.count(201)
        assert statuses == [201] * answered + [429] * (len(statuses) - answered)
        await assert_still_open(other)
    assert answered <= len(await rows(Folder)) - before <= 3


async def test_a_client_that_waits_as_told_is_never_closed(user, settings):
    """Sending again after `wait` gets every frame through, socket open."""
    settings.REALTIME_API_FRAME_RATE = 20
    settings.REALTIME_API_FRAME_BURST = 2
    refused = 0
    async with communicator(user) as ws:
        for i in range(20):
            while True:
                reply = await ws.request("folders", "list", request_id=i)
                if reply["status"] != 429:
                    break
                refused += 1
                await asyncio.sleep(reply["data"]["wait"])
            assert reply["status"] == 200
        assert await ws.receive_nothing(0.2)  # Not closed.
    assert refused  # The rate was met, not avoided.


async def test_reconnecting_does_not_renew_the_allowance(user, other, settings):
    """A new socket of the same user starts where the last one left off."""
    settings.REALTIME_API_FRAME_RATE = 0.5
    settings.REALTIME_API_FRAME_BURST = 3
    async with communicator(user) as first:
        await send_all(first, [frame("folders/list/", request_id=i) for i in range(3)])
        assert [r["status"] for r in await answers(first, 3)] == [200] * 3
    async with communicator(user) as again, communicator(other) as someone_else:
        assert (await again.request("folders", "list"))["status"] == 429
        assert (await someone_else.request("folders", "list"))["status"] == 200


async def test_a_flooder_that_reconnects_is_closed_before_it_is_read(user, settings):
    """Closed 4008 for flooding, its next socket is closed 4008 at once."""
    settings.REALTIME_API_FRAME_RATE = 0.1
    settings.REALTIME_API_FRAME_BURST = 2
    async with communicator(user) as flooder:
        await send_all(flooder, [frame("folders/list/")] * 10)
        assert (await answers_until_close(flooder))[1] == 4008
    async with communicator(user) as again:
        received, code = await answers_until_close(again)
        assert (received, code) == ([], 4008)


def test_the_ledger_forgets_an_allowance_once_it_has_refilled():
    """After burst / rate seconds a fresh bucket is the same: nothing is kept."""
    now = [0.0]
    ledger = FloodLedger(size=2, clock=lambda: now[0])
    spent = ledger.take("user-1", rate=1, burst=2)
    assert spent.arrive() == 0 and spent.arrive() == 0 and spent.arrive() > 0
    ledger.keep("user-1", spent)
    assert ledger.take("user-1", rate=1, burst=2) is spent
    ledger.keep("user-1", spent)
    now[0] = 2.5  # Both of its buckets are whole again.
    assert ledger.take("user-1", rate=1, burst=2) is not spent
    for identity in ("a", "b", "c"):
        flood = ledger.take(identity, rate=1, burst=2)
        flood.arrive()
        ledger.keep(identity, flood)
    assert list(ledger.kept) == ["b", "c"]  # At most `size` identities.


async def test_frames_waiting_to_be_answered_are_bounded(user, settings, slow_requests):
    """Past REALTIME_API_MAX_PENDING_FRAMES, a frame is a 429 without `wait`."""
    settings.REALTIME_API_FRAME_RATE = None
    settings.REALTIME_API_MAX_PENDING_FRAMES = 2
    slow_requests(0.3)
    rows_before = await snapshot()
    async with communicator(user) as ws:
        await send_all(ws, [frame("folders/list/", request_id=i) for i in range(3)])
        await ws.send_to(text_data=frame("folders/create/", {"name": "x"}, 3))
        replies = await answers(ws, 4)
        assert [r["status"] for r in replies] == [200, 200, 429, 429]
        assert "REALTIME_API_MAX_PENDING_FRAMES" in replies[2]["data"]["detail"]
        assert "wait" not in replies[2]["data"]
        assert await snapshot() == rows_before
        await assert_still_open(ws)


async def test_an_oversized_or_binary_frame_counts_and_is_answered(user, settings):
    """Frames refused unread still count against the rate."""
    settings.REALTIME_API_FRAME_RATE = 1
    settings.REALTIME_API_FRAME_BURST = 2
    async with communicator(user) as ws:
        await ws.send_to(text_data="x" * (settings.REALTIME_API_MAX_FRAME_BYTES + 10))
        await ws.send_to(bytes_data=b"\x00" * 10)
        await ws.send_to(text_data=frame("folders/list/", request_id="third"))
        replies = await answers(ws, 3)
    assert [r["status"] for r in replies] == [413, 400, 429]
    assert replies[2]["request_id"] == "third"


# Limits ---------------------------------------------------------------------------


async def test_subscriptions_past_the_limit_are_429_naming_it(world, user, settings):
    """A socket holds at most REALTIME_API_MAX_SUBSCRIPTIONS filters."""
    settings.REALTIME_API_MAX_SUBSCRIPTIONS = 2
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        await subscribe(ws, "folders", {"id": folder.pk})
        await subscribe(ws, "notes", {"folder": folder.pk})  # The same again.
        refused = await ws.request("notes", "subscribe", payload={"id": 1})
        assert refused["status"] == 429
        assert "REALTIME_API_MAX_SUBSCRIPTIONS" in refused["data"]["detail"]
        assert "wait" not in refused["data"]
        await unsubscribe(ws, "folders", {"id": folder.pk})
        await subscribe(ws, "notes", {"id": world.public_note.pk})


async def test_watches_past_the_limit_are_429_naming_it(world, user, settings):
    """A socket watches at most REALTIME_API_MAX_WATCHES live queries."""
    settings.REALTIME_API_MAX_WATCHES = 1
    async with communicator(user) as ws:
        first = await watch(ws, "notes", {"folder": world.public_folder.pk})
        refused = await ws.request("folders", "watch", payload={})
        assert refused["status"] == 429
        assert "REALTIME_API_MAX_WATCHES" in refused["data"]["detail"]
        assert "wait" not in refused["data"]
        await ws.request("notes", "unwatch", payload={"watch": first["watch"]})
        await watch(ws, "folders", {})


# Slow consumers -----------------------------------------------------------------


class StuckTransport(Transport):
    """A server that holds everything: its buffer never drains."""

    kept_open_for = None

    async def writable(self):
        await asyncio.Event().wait()

    def keep_open_for(self, seconds):
        self.kept_open_for = seconds


async def test_a_socket_that_does_not_read_is_closed_4009(world, user, settings):
    """Past REALTIME_API_MAX_QUEUED_BYTES of events the socket is a slow consumer."""
    settings.REALTIME_API_MAX_QUEUED_BYTES = 20_000
    transport = StuckTransport()

    async def stuck_server(scope, receive, send):
        return await application({**scope, SCOPE_KEY: transport}, receive, send)

    folder = world.public_folder
    async with communicator(user, application=stuck_server) as reader:
        await reader.send_to(text_data=frame("notes/subscribe/", {"folder": folder.pk}))
        await asyncio.sleep(0.3)  # Its answer waits in the outbox, unsent.
        for i in range(20):
            await Note.objects.acreate(folder=folder, author=user, text=f"{i}" * 1900)
        message = await reader.receive_output(5)
        assert message == {
            "type": "websocket.close",
            "code": 4009,
            "reason": "slow consumer: reconnect and resume with since",
        }
        assert transport.kept_open_for == 60
        async with communicator(user) as other:  # Others are served meanwhile.
            await assert_still_open(other)
