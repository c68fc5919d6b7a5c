"""Limits and overload against real servers, with real sockets that misbehave.

Each test runs on daphne and on uvicorn (`each_server`): the protocol's
limits hold on both. A reader that stops reading is closed with 4009 once
what waits for it passes REALTIME_API_MAX_QUEUED_BYTES, receives that close
behind its backlog when it reads again (daphne would drop it after 1 s;
uvicorn's kernel would hold megabytes of compressed events first), and
resumes with `since`; a socket that floods without reading is closed with
4008. Meanwhile another socket is served. The server's /metrics tells when
it decided.
"""

import asyncio
import json
import re
import socket
import time
from dataclasses import dataclass

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from bench.workloads import server_rss
from realtime_api.client import origin_of
from realtime_api.testing import create_session
from realtime_api.testing.live_server import (
    DaphneServer,
    LiveClient,
    UvicornServer,
    http_get,
)

from .conftest import SERVER_ENV
from .testapp.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)

METRICS_TOKEN = "overload-test"
NOTE_TEXT = "n" * 1900  # About 2 KB an event.


def overloads(server, kind):
    """The server's count of `kind` in realtime_overload_total (its /metrics)."""
    url = server.url.replace("ws://", "http://") + "/metrics"
    response = http_get(url, {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status == 200, response.body[:200]
    sample = "realtime_overload_total" + '{kind="' + kind + '"}'
    pattern = "^" + re.escape(sample) + r" ([0-9.e+]+)$"
    found = re.search(pattern, response.body.decode(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def stalled_reader(server, session_key):
    """A real socket that reads one frame at a time and keeps almost no buffer.

    websockets stops reading from the network once `max_queue` frames wait,
    and a small kernel receive buffer fills fast: the server's backlog grows.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    return await websockets.connect(
        server.url + "/ws/",
        sock=sock,
        origin=origin_of(server.url),
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}"},
        max_queue=1,
        open_timeout=10,
    )


async def read_until_closed(ws, timeout=30):
    """Every frame the socket still delivers, then the close code it received."""
    frames = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                frames.append(json.loads(await ws.recv()))
        except websockets.ConnectionClosed as closed:
            return frames, closed.rcvd.code if closed.rcvd else None


async def create_notes(writer, folder, count):
    """Create `count` notes of about 2 KB, `count` requests sent at once."""
    payload = {"folder": folder.pk, "text": NOTE_TEXT}
    ids = [f"c{i}" for i in range(count)]
    for request_id in ids:
        frame = {
            "stream": "notes/create/",
            "payload": payload,
            "request_id": request_id,
        }
        await writer.send_text(json.dumps(frame))
    for request_id in ids:
        reply = await writer.receive_response(request_id)
        assert reply["status"] == 201, reply


SLOW_ENV = {
    "REALTIME_API_MAX_QUEUED_BYTES": "65536",
    "REALTIME_API_FRAME_RATE": "0",
    # The writer pipelines hundreds of creates: no budget of its user either.
    "REALTIME_API_USER_FRAME_RATE": "0",
    "METRICS_TOKEN": METRICS_TOKEN,
}


@dataclass
class Stall:
    """A subscriber that stopped reading, and what it took to close it."""

    reader: object  # its socket (websockets)
    created: int  # notes created until the server decided it was slow
    seconds: float
    rss_growth: int  # server RSS at the decision, minus at the subscribe


async def subscribed_stalled_reader(server, user, folder):
    """A `stalled_reader()` of `user`'s, subscribed to the notes of `folder`."""
    key = await database_sync_to_async(create_session)(user)
    reader = await stalled_reader(server, key)
    subscribe = {"stream": "notes/subscribe/", "payload": {"folder": folder.pk}}
    await reader.send(json.dumps({**subscribe, "request_id": "s"}))
    assert json.loads(await reader.recv())["status"] == 200
    return reader


async def stall_until_slow(server, user, writer, folder):
    """Subscribe a stalled reader to `folder`; create notes until it is slow."""
    reader = await subscribed_stalled_reader(server, user, folder)
    rss = server_rss(server.process.pid)
    started = time.monotonic()
    created = 0
    while not await asyncio.to_thread(overloads, server, "slow_consumer"):
        await create_notes(writer, folder, 25)
        created += 25
        assert created < 5000, "the stalled reader was never closed"
    growth = server_rss(server.process.pid) - rss
    return Stall(reader, created, time.monotonic() - started, growth)


async def test_a_reader_that_stops_is_closed_4009_and_resumes(each_server, user):
    """Past the bound: 4009 behind the backlog, nothing after, then `since`."""
    server = each_server(env=SLOW_ENV)
    folder = await Folder.objects.acreate(name="Busy", owner=user)
    key = await database_sync_to_async(create_session)(user)
    async with await LiveClient.connect(server.url, key) as writer:
        stall = await stall_until_slow(server, user, writer, folder)
        print(
            f"{type(server).__name__}: 4009 after {stall.created} events of 2 KB,"
            f" {stall.seconds:.1f} s, RSS +{stall.rss_growth / 2**20:.1f} MB"
        )
        await create_notes(writer, folder, 5)  # After the close: never sent to it.
        created = stall.created + 5
        await asyncio.sleep(2)  # Longer than autobahn waits for a close reply.
        received, code = await read_until_closed(stall.reader)
        assert code == 4009
        seqs = [frame["seq"] for frame in received]
        first = seqs[0]  # 1, unless the log is shared (Redis) with other tests.
        assert seqs == list(range(first, first + len(seqs)))  # In order, no gap.
        assert len(seqs) < created - 5

        # The writer was served all along; the reader resumes where it stopped.
        async with await LiveClient.connect(server.url, key) as again:
            response = await again.request(
                "notes", "subscribe", payload={"folder": folder.pk}, since=seqs[-1]
            )
            assert response["resumed"] is True
            replayed = [await again.receive_event() for _ in range(created - len(seqs))]
            assert [e["seq"] for e in replayed] == list(
                range(seqs[-1] + 1, first + created)
            )
            assert await asyncio.to_thread(overloads, server, "slow_consumer") == 1


STALL_EVENTS = 500  # 1 MB of events: 16 times the bound, half of daphne's kernel.


async def stall_for(server, user, events):
    """Send `events` notes past a stalled reader: (server RSS growth, its close)."""
    folder = await Folder.objects.acreate(name=f"Busy {server.port}", owner=user)
    key = await database_sync_to_async(create_session)(user)
    reader = await subscribed_stalled_reader(server, user, folder)
    async with await LiveClient.connect(server.url, key) as writer:
        await create_notes(writer, folder, 50)  # Warm up (the reader gets them).
        rss = server_rss(server.process.pid)
        for _ in range(events // 50):
            await create_notes(writer, folder, 50)
        growth = server_rss(server.process.pid) - rss
    slow = await asyncio.to_thread(overloads, server, "slow_consumer")
    reader.transport.abort()  # No closing handshake behind the backlog.
    return growth, slow


@pytest.mark.slow
async def test_a_stalled_reader_costs_uvicorn_no_more_than_daphne(
    transactional_db, user
):
    """The same stall on both servers: uvicorn holds no more than daphne.

    Server RSS grows with the events it logs and serializes; what it holds
    for a subscriber that stopped reading must not add more on uvicorn (before
    this was fixed, uvicorn never closed it: 5,000 events, +26.6 MB).
    """
    growth = {}
    for kind in (DaphneServer, UvicornServer):
        server = kind(env={**SERVER_ENV, **SLOW_ENV}).start()
        try:
            growth[kind], slow = await stall_for(server, user, STALL_EVENTS)
        finally:
            server.stop()
        print(
            f"{kind.__name__}: RSS +{growth[kind] / 2**20:.1f} MB, closed 4009: {slow}"
        )
    assert slow == 1, "uvicorn did not close the stalled reader"
    assert growth[UvicornServer] <= 1.5 * growth[DaphneServer] + 4 * 2**20


async def test_a_socket_flooding_without_reading_is_closed_4008(each_server, user):
    """5,000 frames at full speed: closed after its burst; others are served."""
    server = each_server(
        env={
            "REALTIME_API_FRAME_RATE": "20",
            "REALTIME_API_FRAME_BURST": "40",
            "METRICS_TOKEN": METRICS_TOKEN,
        }
    )
    key = await database_sync_to_async(create_session)(user)
    async with (
        await LiveClient.connect(server.url, key) as flooder,
        await LiveClient.connect(server.url, key) as other,
    ):
        # The close frame comes at once, the closing handshake never: the
        # client's reply waits behind the frames the server no longer reads,
        # until websockets gives up (close_timeout, from the close frame on).
        flooder.connection.close_timeout = 1
        frame = json.dumps({"stream": "folders/list/", "request_id": "f"})
        try:
            for _ in range(5000):
                await flooder.connection.send(frame)
        except websockets.ConnectionClosed:
            pass  # Closed before it finished sending.
        for i in range(5):
            reply = await other.request("folders", "list", request_id=f"o{i}")
            assert reply["status"] == 200
        answered = []
        protocol = flooder.connection.protocol
        async with asyncio.timeout(10):
            while True:
                try:
                    text = await asyncio.wait_for(flooder.connection.recv(), 0.1)
                except TimeoutError:
                    if protocol.close_rcvd is None:
                        continue
                    break  # Closed, and every frame before the close read.
                except websockets.ConnectionClosed:
                    break
                answered.append(json.loads(text))
        code = protocol.close_rcvd.code if protocol.close_rcvd else None
    assert code == 4008
    statuses = [frame["status"] for frame in answered]
    # At most the burst (and what the rate added meanwhile) ran, and at most
    # 40 more were refused before the close.
    assert statuses.count(429) <= 40 and statuses.count(200) <= 40 + 20
    assert await asyncio.to_thread(overloads, server, "flooding") == 1
