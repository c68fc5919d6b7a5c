"""Deleting a token, or deactivating its user, closes its sockets with 4001."""

import pytest
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token, TokenProxy

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import AuthWebsocketCommunicator, create_token, create_user

from .test_handshake_auth import token_socket
from .whoami import application

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(socket):
    await socket
    connected, _ = await socket.connect()
    assert connected
    return socket


async def assert_closed(socket):
    message = await socket.receive_output(timeout=1)
    assert message == {"type": "websocket.close", "code": CLOSE_CODE}


async def assert_open(socket):
    assert await socket.queue_empty(0.2)
    assert (await socket.request("whoami", "list"))["status"] == 200


@pytest.mark.parametrize("model", [Token, TokenProxy], ids=["Token", "admin proxy"])
async def test_deleting_a_token_closes_its_sockets_only(user, model):
    """Its sockets close; the user's session sockets and others' tokens stay open."""
    key, other_key = await create_token(user), await create_token(await create_user())
    revoked = [await open_socket(token_socket(key)) for _ in range(2)]
    kept = await open_socket(token_socket(other_key))
    session = await open_socket(
        AuthWebsocketCommunicator(application, "/ws/", user=user)
    )
    await database_sync_to_async(model.objects.filter(key=key).delete)()
    for socket in revoked:
        await assert_closed(socket)
    for socket in (kept, session):
        await assert_open(socket)
        await socket.disconnect()


async def test_deactivating_a_user_closes_their_token_sockets(user):
    """A deactivated user's token sockets close, as their session sockets do."""
    socket = await open_socket(token_socket(await create_token(user)))
    user.is_active = False
    await database_sync_to_async(user.save)()
    await assert_closed(socket)


async def test_deleting_a_user_closes_their_token_sockets(user):
    """Deleting the user (and so the token) closes its sockets."""
    socket = await open_socket(token_socket(await create_token(user)))
    await database_sync_to_async(user.delete)()
    await assert_closed(socket)
