"""Session-change closes reach sockets served by other processes (real Redis)."""

import pytest
from channels.db import database_sync_to_async

from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import create_session
from realtime_api.testing.live_server import live_client

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def set_password(user, password):
    user.set_password(password)
    user.save()


async def test_password_change_closes_the_users_sockets_on_every_server(
    daphne_servers, user, django_user_model
):
    """Two daphne processes share Redis: a password change closes both sockets."""
    first, second = daphne_servers(), daphne_servers()
    bystander = await database_sync_to_async(django_user_model.objects.create_user)(
        "bystander", password="pw"
    )
    keys = [await database_sync_to_async(create_session)(u) for u in (user, user)]
    other_key = await database_sync_to_async(create_session)(bystander)
    async with (
        live_client(first.url, keys[0], reconnect=False) as on_first,
        live_client(second.url, keys[1], reconnect=False) as on_second,
        live_client(second.url, other_key, reconnect=False) as untouched,
    ):
        await set_password(user, "a new password")
        assert await on_first.wait_closed(timeout=5) == CLOSE_CODE
        assert await on_second.wait_closed(timeout=5) == CLOSE_CODE
        with pytest.raises(TimeoutError):
            await untouched.wait_closed(timeout=0.5)
