"""One group membership per process: many sockets, each event once to each."""

import asyncio

import pytest

from realtime_api.streams.registry import get_registry
from realtime_api.testing import subscribe

from .helpers import communicator
from .testapp.models import Note

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sockets_subscribing_at_once_all_hear_every_event(world, user):
    """Concurrent first subscriptions to one group lose no member (a real race
    on Redis, where joining a group awaits the server)."""
    folder = world.public_folder
    sockets = [communicator() for _ in range(20)]
    for socket in sockets:
        await socket.__aenter__()
    try:
        await asyncio.gather(
            *(subscribe(socket, "notes", {"folder": folder.pk}) for socket in sockets)
        )
        group = f"notes-folder-{folder.pk}"
        listeners = get_registry().runtime().hub.listeners("notes")
        assert len(listeners.by_group[group]) == 20
        note = await Note.objects.acreate(folder=folder, author=user, text="all")
        for socket in sockets:
            event = await socket.receive_event()
            assert event["data"]["id"] == note.pk
            assert await socket.queue_empty(0.01)
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)
    assert group not in listeners.by_group  # The last to leave left the group.
