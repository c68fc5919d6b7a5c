"""Resuming after a reconnect: `seq` on every event, `since` on subscribe."""

import pytest

from realtime_api.streams.registry import get_registry
from realtime_api.testing import subscribe

from .helpers import communicator
from .testapp.models import Note

pytestmark = pytest.mark.django_db(transaction=True)


async def note_on(folder, user, text):
    return await Note.objects.acreate(folder=folder, author=user, text=text)


async def test_seq_grows_and_is_the_same_for_every_subscriber(world, user):
    """Two subscribers see the same, growing seq for the same changes."""
    folder = world.public_folder
    async with communicator(user) as one, communicator() as two:
        await subscribe(one, "notes", {"folder": folder.pk})
        await subscribe(two, "notes", {"folder": folder.pk})
        await note_on(folder, user, "first")
        await note_on(folder, user, "second")
        seqs_one = [(await one.receive_event())["seq"] for _ in range(2)]
        seqs_two = [(await two.receive_event())["seq"] for _ in range(2)]
    assert seqs_one == seqs_two
    assert seqs_one[1] == seqs_one[0] + 1


async def test_resume_sends_every_missed_event_once_in_order(world, user):
    """After a disconnect, `since` replays exactly the missed events, then live."""
    folder = world.public_folder
    async with communicator(user) as first:
        await subscribe(first, "notes", {"folder": folder.pk})
        await note_on(folder, user, "seen")
        last_seen = (await first.receive_event())["seq"]
    missed = [await note_on(folder, user, f"missed {i}") for i in range(3)]

    async with communicator(user) as again:
        response = await subscribe(
            again, "notes", {"folder": folder.pk}, since=last_seen
        )
        assert response["resumed"] is True
        replayed = [await again.receive_event() for _ in missed]
        assert [e["data"]["text"] for e in replayed] == [n.text for n in missed]
        seqs = [e["seq"] for e in replayed]
        assert seqs == sorted(seqs) and seqs[0] > last_seen
        await note_on(folder, user, "live")
        live = await again.receive_event()
        assert live["data"]["text"] == "live" and live["seq"] > seqs[-1]
        assert await again.queue_empty()


async def test_resume_replays_only_the_subscriptions_groups(world, user):
    """A resumed subscription to one note gets that note's events only."""
    note, other = world.notes[0], world.notes[1]
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        note.text = "seen"
        await note.asave()
        since = (await ws.receive_event())["seq"]
    other.text = "not mine"
    await other.asave()
    note.text = "mine"
    await note.asave()
    async with communicator(user) as ws:
        response = await subscribe(ws, "notes", {"id": note.pk}, since=since)
        assert response["resumed"] is True
        assert (await ws.receive_event())["data"]["text"] == "mine"
        assert await ws.queue_empty()


async def test_a_change_between_join_and_log_read_arrives_once(
    world, user, monkeypatch
):
    """An event committed while the log is read is replayed, not sent twice."""
    folder = world.public_folder
    log = get_registry().runtime().event_log
    read_log = log.replay

    async def replay_after_a_change(stream, since, groups):
        await note_on(folder, user, "in between")  # Live copy is queued now.
        return await read_log(stream, since, groups)

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        await note_on(folder, user, "before")
        since = (await ws.receive_event())["seq"]
    async with communicator(user) as ws:
        monkeypatch.setattr(log, "replay", replay_after_a_change)
        response = await subscribe(ws, "notes", {"folder": folder.pk}, since=since)
        assert response["resumed"] is True
        assert (await ws.receive_event())["data"]["text"] == "in between"
        assert await ws.queue_empty(0.3)


@pytest.mark.parametrize("window", ["size", "age"])
async def test_since_older_than_the_log_is_too_old(world, user, settings, window):
    """When missed events left the log, the answer is resumed false, "too old"."""
    if window == "size":
        settings.REALTIME_API_EVENT_LOG_SIZE = 2
    else:
        settings.REALTIME_API_EVENT_LOG_SECONDS = 0
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        await note_on(folder, user, "seen")
        since = (await ws.receive_event())["seq"]
    for i in range(3):
        await note_on(folder, user, f"missed {i}")
    async with communicator(user) as ws:
        response = await subscribe(ws, "notes", {"folder": folder.pk}, since=since)
        assert (response["resumed"], response["reason"]) == (False, "too old")
        assert await ws.queue_empty()


async def test_since_at_the_latest_seq_resumes_with_nothing(world, user):
    """A client that missed nothing resumes and gets no replay."""
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        await note_on(folder, user, "seen")
        since = (await ws.receive_event())["seq"]
    async with communicator(user) as ws:
        response = await subscribe(ws, "notes", {"folder": folder.pk}, since=since)
        assert response["resumed"] is True
        assert await ws.queue_empty()


@pytest.mark.parametrize("since", [-1, "5", 1.5, True])
async def test_bad_since_is_a_400(world, user, since):
    """`since` must be a non-negative integer."""
    async with communicator(user) as ws:
        response = await ws.request(
            "notes",
            "subscribe",
            payload={"folder": world.public_folder.pk},
            since=since,
        )
        assert response["status"] == 400
        assert "since" in response["data"]["detail"]


async def test_a_subscribe_without_since_says_nothing_of_resuming(world, user):
    """Without `since` the response has no `resumed`."""
    async with communicator(user) as ws:
        response = await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        assert "resumed" not in response
