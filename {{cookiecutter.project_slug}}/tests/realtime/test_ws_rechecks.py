"""Rechecks and replays cost what a subscription can see (issue 23, item 3).

A folder made private and public again logs a `recheck` each time. A `since`
replay evaluates only the rechecks (and changes) of its subscription's
groups, each distinct recheck once, at most REALTIME_API_MAX_REPLAY_CHANGES
of them (past that: a gap). Live, rechecks of the same objects in one batch
are evaluated once and send one frame per object and receiver.
"""

import uuid

import pytest
from channels.db import database_sync_to_async

from realtime_api.delivery.audience import Audience
from realtime_api.delivery.broadcast import recheck_groups
from realtime_api.delivery.changes import Change
from realtime_api.streams.registry import get_registry
from realtime_api.testing import events_until_quiet, subscribe, watch

from .helpers import communicator, save
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_event_log(settings):
    """Replays `since=0` read this test's changes only.

    With Redis the log outlives a test: an earlier test's recheck of too many
    objects to name their groups concerns every subscription.
    """
    settings.REALTIME_API_REDIS_PREFIX = (
        f"{settings.REALTIME_API_REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
def rechecks(monkeypatch):
    """Count the recheck evaluations (each is ~3 queries)."""
    calls = []
    original = Audience.recheck

    def counted(self, lookups):
        calls.append(lookups)
        return original(self, lookups)

    monkeypatch.setattr(Audience, "recheck", counted)
    return calls


async def toggle(folder, times):
    """Make `folder` private and public again, `times` saves in all."""
    for _ in range(times):
        await save(folder, is_private=not folder.is_private)


async def test_a_replay_evaluates_only_the_rechecks_of_its_groups(
    world, user, other, rechecks
):
    """40 toggles of one folder: nothing for another folder's replay, 1 for its own."""
    await toggle(world.public_folder, 40)  # Public again at the end.
    async with communicator(other) as ws:
        elsewhere = await subscribe(
            ws, "notes", {"folder": world.others_folder.pk}, since=0
        )
        assert elsewhere["resumed"] is True
        assert rechecks == []
        own = await subscribe(ws, "notes", {"folder": world.public_folder.pk}, since=0)
        assert own["resumed"] is True
        assert len(rechecks) == 1


async def test_a_replay_past_its_bound_is_a_gap(world, user, settings):
    """More changes than REALTIME_API_MAX_REPLAY_CHANGES: re-read, no replay."""
    settings.REALTIME_API_MAX_REPLAY_CHANGES = 3
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        await Note.objects.acreate(folder=folder, author=user, text="first")
        since = (await ws.receive_event())["seq"]
    for index in range(2):
        await Note.objects.acreate(folder=folder, author=user, text=f"a{index}")
    async with communicator(user) as ws:
        few = await subscribe(ws, "notes", {"folder": folder.pk}, since=since)
        assert few["resumed"] is True and "gap" not in few
        assert len(await events_until_quiet(ws)) == 2
    for index in range(2):
        await Note.objects.acreate(folder=folder, author=user, text=f"b{index}")
    async with communicator(user) as ws:
        many = await subscribe(ws, "notes", {"folder": folder.pk}, since=since)
        assert (many["resumed"], many["gap"]) == (False, True)
        assert many["reason"] == "too many changes"
        assert await events_until_quiet(ws) == []


async def test_rechecks_of_the_same_objects_in_one_batch_send_one_frame_each(
    world, user, other, rechecks
):
    """10 rechecks of a folder made public, in one batch: an `enter` a note."""
    folder = world.private_folder
    for index in range(3):
        await Note.objects.acreate(folder=folder, author=user, text=f"hidden {index}")
    async with communicator(other) as ws:
        watch_id = (await watch(ws, "notes", {}))["watch"]
        await Folder.objects.filter(pk=folder.pk).aupdate(is_private=False)
        adapter = get_registry().get("notes")
        lookups = {"folder": folder.pk}
        groups = await database_sync_to_async(recheck_groups)(adapter, lookups)
        hub = get_registry().runtime().hub
        for _ in range(10):  # Queued at once: the hub takes them as one batch.
            hub.queue.put_nowait(
                Change("notes", "recheck", filter=lookups, groups=groups)
            )
        events = await events_until_quiet(ws, wait=0.5)
    notes = await Note.objects.filter(folder=folder).acount()
    assert notes >= 3
    assert (
        sorted((e["action"], e["watch"]) for e in events)
        == [("enter", watch_id)] * notes
    )
    assert len(rechecks) == 1


async def test_rechecks_weigh_more_than_objects_in_a_replays_bound(
    world, user, other, settings
):
    """Two folders toggled: 2 rechecks (20 each) pass a bound of 30 objects."""
    settings.REALTIME_API_MAX_REPLAY_CHANGES = 30
    await toggle(world.public_folder, 2)
    async with communicator(other) as ws:
        one = await subscribe(ws, "notes", {"folder": world.public_folder.pk}, since=0)
        assert one["resumed"] is True
    await toggle(world.others_folder, 2)
    folders = [world.public_folder.pk, world.others_folder.pk]
    async with communicator(other) as ws:
        both = await ws.request(
            "notes", "subscribe", payload={"folder": folders}, since=0
        )
    assert (both["status"], both["resumed"], both["gap"]) == (200, False, True)
