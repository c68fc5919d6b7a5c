"""The testing toolkit shipped in realtime_api works as documented."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from realtime_api.testing import AuthWebsocketCommunicator, create_user

from .whoami import application, username

pytestmark = pytest.mark.django_db(transaction=True)


async def test_create_user_makes_unique_users_who_can_log_in():
    """create_user() saves users with unique names and a usable password."""
    first, second = await create_user(), await create_user(first_name="Alex")
    assert first.username != second.username
    assert second.first_name == "Alex"
    assert first.check_password("pw")
    assert await get_user_model().objects.acount() == 2


async def test_communicator_connects_as_the_given_user(user):
    """The socket's scope carries the user logged in through a real session."""
    async with AuthWebsocketCommunicator(application, "/ws/", user=user) as socket:
        assert await username(socket) == user.username


async def test_communicator_without_user_is_anonymous():
    """Without a user the socket is anonymous."""
    async with AuthWebsocketCommunicator(application, "/ws/") as socket:
        assert await username(socket) is None


async def test_login_checks_credentials(user):
    """login() really authenticates: a wrong password fails."""
    socket = await AuthWebsocketCommunicator(application, "/ws/")
    assert not await socket.login(username=user.username, password="wrong")
    assert await socket.login(username=user.username, password="pw")
    async with socket:
        assert await username(socket) == user.username


async def test_force_login_and_logout(user, admin):
    """force_login() and logout() change the session the next socket uses."""
    socket = await AuthWebsocketCommunicator(application, "/ws/", user=user)
    await socket.force_login(admin)
    async with socket:
        assert await username(socket) == admin.username
    await socket.logout()
    again = AuthWebsocketCommunicator(application, "/ws/")
    again.cookies = socket.cookies
    async with again:
        assert await username(again) is None


async def test_queue_helpers_count_waiting_frames():
    """queue_empty() and queue_count() see the frames waiting to be read."""
    async with AuthWebsocketCommunicator(application, "/ws/") as socket:
        assert await socket.queue_empty()
        await socket.send_json_to({"stream": "nope/list/"})
        await socket.send_json_to({"stream": "nope/list/"})
        assert await socket.queue_count() == 2
        assert not await socket.queue_empty()


async def test_request_matches_responses_by_request_id():
    """request() returns the response with its own request_id."""
    async with AuthWebsocketCommunicator(application, "/ws/") as socket:
        await socket.send_json_to({"stream": "first/list/", "request_id": "other"})
        response = await socket.request("second", "list", request_id=7)
        assert response["request_id"] == 7
        assert response["stream"] == "second"


async def test_fixtures_are_a_user_and_a_superuser(user, admin):
    """The `user` and `admin` fixtures log in with the password "pw"."""
    assert user.check_password("pw") and not user.is_staff
    assert admin.is_superuser and admin.check_password("pw")
    assert await database_sync_to_async(get_user_model().objects.count)() == 2
