"""Limits that hold across a user's sockets, against a real daphne (issue 23).

The 4008 penalty outlives the socket it closed: a reconnect of the same user
within the penalty window is closed 4008 at once.
"""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from realtime_api.live_server import LiveClient
from realtime_api.testing import create_session

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
