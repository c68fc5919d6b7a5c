"""The protocol's refusals and its 4001 close, on daphne and on uvicorn.

PROTOCOL.md's limits (429s, 413) and close codes must hold whichever server
runs the project (README, "Which server"): each test runs on both
(`each_server`), through real sockets. 4008 and 4009 are in
test_live_overload.py; the in-process tests (test_ws_overload.py) check
the details.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import create_session
from realtime_api.testing.live_server import LiveClient

from .helpers import log_out_over_http
from .testapp.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)


def frame(stream, payload=None, request_id=None):
    return json.dumps(
        {"stream": stream, "payload": payload or {}, "request_id": request_id}
    )


async def answers(client, count):
    """The next `count` frames of the socket (responses, here)."""
    return [json.loads(await client.receive_text(10)) for _ in range(count)]


async def test_frames_over_the_rate_are_429_with_wait(each_server, user):
    """Past the burst: 429 with `wait`, in order; waiting as told gets through."""
    server = each_server(
        env={"REALTIME_API_FRAME_RATE": "1", "REALTIME_API_FRAME_BURST": "3"}
    )
    key = await database_sync_to_async(create_session)(user)
    async with await LiveClient.connect(server.url, key) as client:
        for i in range(5):
            await client.send_text(frame("folders/list/", request_id=i))
        replies = await answers(client, 5)
        assert [r["request_id"] for r in replies] == [0, 1, 2, 3, 4]
        assert [r["status"] for r in replies] == [200, 200, 200, 429, 429]
        wait = replies[3]["data"]["wait"]
        assert 0 < wait <= 1
        assert "REALTIME_API_FRAME_RATE" in replies[3]["data"]["detail"]
        await asyncio.sleep(wait)
        assert (await client.request("folders", "list"))["status"] == 200


async def test_refusals_429_and_413_leave_the_socket_open(each_server, user):
    """Frames waiting, subscriptions, oversize: each refused, the socket served."""
    server = each_server(
        env={
            "REALTIME_API_FRAME_RATE": "0",
            "REALTIME_API_MAX_PENDING_FRAMES": "2",
            "REALTIME_API_MAX_SUBSCRIPTIONS": "2",
            "REALTIME_API_MAX_FRAME_BYTES": "1024",
        }
    )
    folders = [await Folder.objects.acreate(name=f"F{i}", owner=user) for i in range(3)]
    key = await database_sync_to_async(create_session)(user)
    async with await LiveClient.connect(server.url, key) as client:
        # 40 frames at once, 2 may wait: the rest are refused without `wait`.
        for i in range(40):
            await client.send_text(frame("folders/list/", request_id=i))
        replies = await answers(client, 40)
        assert [r["request_id"] for r in replies] == list(range(40))
        statuses = [r["status"] for r in replies]
        assert statuses[:2] == [200, 200] and set(statuses) == {200, 429}
        refused = replies[statuses.index(429)]["data"]
        assert "REALTIME_API_MAX_PENDING_FRAMES" in refused["detail"]
        assert "wait" not in refused

        for folder in folders[:2]:
            payload = {"folder": folder.pk}
            reply = await client.request("notes", "subscribe", payload=payload)
            assert reply["status"] == 200
        payload = {"folder": folders[2].pk}
        reply = await client.request("notes", "subscribe", payload=payload)
        assert reply["status"] == 429
        assert "REALTIME_API_MAX_SUBSCRIPTIONS" in reply["data"]["detail"]
        assert "wait" not in reply["data"]

        await client.send_text(frame("folders/list/", {"pad": "x" * 2000}, "big"))
        (oversize,) = await answers(client, 1)
        assert (oversize["status"], oversize["request_id"]) == (413, None)
        assert (await client.request("folders", "list"))["status"] == 200


async def test_logging_out_closes_the_sessions_sockets_4001(each_server, user, other):
    """A logout over HTTP closes that session's socket (4001), no other."""
    server = each_server()
    key = await database_sync_to_async(create_session)(user)
    other_key = await database_sync_to_async(create_session)(other)
    async with (
        await LiveClient.connect(server.url, key) as logged_out,
        await LiveClient.connect(server.url, other_key) as untouched,
    ):
        assert (await logged_out.request("folders", "list"))["status"] == 200
        await asyncio.to_thread(log_out_over_http, server, key)
        assert await logged_out.close_code(timeout=10) == CLOSE_CODE
        assert (await untouched.request("folders", "list"))["status"] == 200
