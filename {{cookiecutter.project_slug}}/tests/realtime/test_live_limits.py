"""Limits that hold across a user's sockets, against a real daphne (issue 23).

The 4008 penalty outlives the socket it closed: a reconnect of the same user
within the penalty window is closed 4008 at once. A user (or an anonymous
address) may hold only so many sockets: one more handshake is refused with
HTTP 429 and Retry-After, whatever X-Forwarded-For the client writes.
"""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from realtime_api.testing import create_session
from realtime_api.testing.live_server import LiveClient, UvicornServer

from .conftest import SERVER_ENV

pytestmark = pytest.mark.django_db(transaction=True)


async def flood_until_closed(client, frames=5000):
    """Send `frames` list requests at full speed; return the close code heard."""
    client.connection.close_timeout = 1
    frame = json.dumps({"stream": "folders/list/", "request_id": "f"})
    try:
        for _ in range(frames):
            await client.connection.send(frame)
    except websockets.ConnectionClosed:
        pass
    protocol = client.connection.protocol
    async with asyncio.timeout(10):
        while protocol.close_rcvd is None:
            try:
                await asyncio.wait_for(client.connection.recv(), 0.1)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed:
                break
    return protocol.close_rcvd.code if protocol.close_rcvd else None


async def test_a_reconnect_after_4008_is_closed_4008_at_once(testapp_servers, user):
    """The flooder's penalty is recorded when it is closed, not when it goes.

    The closed flooder's socket stays open on the server (up to 60 s, unread);
    a new socket of the same user opened meanwhile is closed 4008 before any
    of its frames is answered.
    """
    server = testapp_servers(
        env={"REALTIME_API_FRAME_RATE": "5", "REALTIME_API_FRAME_BURST": "20"}
    )
    key = await database_sync_to_async(create_session)(user)
    flooder = await LiveClient.connect(server.url, key)
    try:
        assert await flood_until_closed(flooder) == 4008
        async with await LiveClient.connect(server.url, key) as again:
            try:
                reply = await again.request("folders", "list", request_id="again")
            except websockets.ConnectionClosed:
                reply = None
            assert reply is None, "a reconnect within the penalty was served"
            assert await again.close_code(timeout=5) == 4008
    finally:
        flooder.connection.transport.abort()


async def handshake(server, headers=None, origin="auto"):
    """Open a raw socket; return it, or the refusal's (status, Retry-After)."""
    origin = server.url.replace("ws://", "http://") if origin == "auto" else origin
    try:
        return await websockets.connect(
            server.url + "/ws/", additional_headers=headers or {}, origin=origin
        )
    except websockets.InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers.get("Retry-After")


async def test_sockets_past_a_users_budget_are_refused_429(testapp_servers, user):
    """The 4th socket of a user with 3 open: HTTP 429, Retry-After; room again after."""
    server = testapp_servers(env={"REALTIME_API_MAX_SOCKETS_PER_USER": "3"})
    key = await database_sync_to_async(create_session)(user)
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}
    sockets = [await handshake(server, cookie) for _ in range(3)]
    try:
        assert all(not isinstance(ws, tuple) for ws in sockets)
        status, retry_after = await handshake(server, cookie)
        assert status == 429 and int(retry_after) > 0
        anonymous = await handshake(server)  # Another identity is not counted.
        assert not isinstance(anonymous, tuple)
        await anonymous.close()
        await sockets.pop().close()
        async with asyncio.timeout(10):
            while isinstance(again := await handshake(server, cookie), tuple):
                await asyncio.sleep(0.1)  # The server hears of the close.
        sockets.append(again)
    finally:
        for ws in sockets:
            await ws.close()


async def test_an_address_budget_ignores_a_forged_x_forwarded_for(testapp_servers):
    """Anonymous sockets count by the peer's address: no proxy is configured."""
    server = testapp_servers(env={"REALTIME_API_MAX_SOCKETS_PER_ADDRESS": "2"})
    forged = [
        {"X-Forwarded-For": f"10.0.0.{n}", "X-Real-IP": f"10.0.1.{n}"} for n in range(3)
    ]
    sockets = [await handshake(server, forged[n]) for n in range(2)]
    try:
        assert all(not isinstance(ws, tuple) for ws in sockets)
        status, retry_after = await handshake(server, forged[2])
        assert status == 429 and int(retry_after) > 0
    finally:
        for ws in sockets:
            await ws.close()


async def test_uvicorn_refuses_past_the_budget_with_429_too(transactional_db):
    """uvicorn: the same 429 and Retry-After, through websocket.http.response."""
    env = {**SERVER_ENV, "REALTIME_API_MAX_SOCKETS_PER_ADDRESS": "1"}
    server = UvicornServer(env=env).start()
    try:
        first = await handshake(server)
        assert not isinstance(first, tuple)
        status, retry_after = await handshake(server)
        await first.close()
        assert status == 429 and int(retry_after) > 0
    finally:
        server.stop()
