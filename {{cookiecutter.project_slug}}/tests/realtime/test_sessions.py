"""Sockets are closed (4001) when their user or session changes, and only then."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import update_last_login

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import AuthWebsocketCommunicator, create_user

from .whoami import application, username

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(user=None):
    socket = await AuthWebsocketCommunicator(application, "/ws/", user=user)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def assert_closed(socket):
    message = await socket.receive_output(timeout=1)
    assert message == {"type": "websocket.close", "code": CLOSE_CODE}


async def assert_open(socket):
    """The socket got no close and still answers a request."""
    assert await socket.queue_empty(0.2)
    assert await socket.request("whoami", "list")


@database_sync_to_async
def change_user(user, **fields):
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()


@database_sync_to_async
def set_password(user, password):
    user.set_password(password)
    user.save()


async def test_logout_closes_only_that_sessions_sockets(user):
    """Logging out one session closes its sockets, not the user's other session."""
    laptop, phone = await open_socket(user), await open_socket(user)
    await laptop.logout()
    await assert_closed(laptop)
    await assert_open(phone)
    await phone.disconnect()


async def test_password_change_closes_every_session(user):
    """A new password closes the user's sockets in every session."""
    laptop, phone = await open_socket(user), await open_socket(user)
    await set_password(user, "new password")
    await assert_closed(laptop)
    await assert_closed(phone)


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_deactivation_and_deletion_close_every_session(user, change):
    """Deactivating or deleting a user closes all of their sockets."""
    laptop, phone = await open_socket(user), await open_socket(user)
    if change == "deactivate":
        await change_user(user, is_active=False)
    else:
        await database_sync_to_async(user.delete)()
    await assert_closed(laptop)
    await assert_closed(phone)


async def test_last_login_and_other_fields_close_nothing(user):
    """Saving last_login (every login does) or a name closes nothing."""
    socket = await open_socket(user)
    await database_sync_to_async(update_last_login)(None, user)
    await change_user(user, first_name="Ada", email="ada@example.com")
    await assert_open(socket)
    await socket.disconnect()


async def test_login_closes_only_that_browsers_anonymous_sockets(user):
    """A login closes the anonymous sockets of that browser, no one else's."""
    browser, other_browser = await open_socket(), await open_socket()
    assert await browser.login(username=user.username, password="pw")
    await assert_closed(browser)
    await assert_open(other_browser)
    await other_browser.disconnect()


async def test_other_users_sockets_are_untouched(user):
    """A change to one user leaves another user's sockets open."""
    mine, theirs = await open_socket(user), await open_socket(await create_user())
    await set_password(user, "new password")
    await assert_closed(mine)
    await assert_open(theirs)
    await theirs.disconnect()


async def test_logout_of_an_anonymous_session_is_harmless():
    """Logging out when nobody is logged in neither crashes nor closes."""
    socket = await open_socket()
    await socket.logout()
    await assert_open(socket)
    await socket.disconnect()


async def test_a_reconnect_after_login_carries_the_new_user(user):
    """After the 4001 close, a new socket of that browser is the logged-in user."""
    browser = await open_socket()
    await browser.login(username=user.username, password="pw")
    await assert_closed(browser)
    reconnected = AuthWebsocketCommunicator(application, "/ws/")
    reconnected.cookies = browser.cookies
    async with reconnected:
        assert await username(reconnected) == user.username
