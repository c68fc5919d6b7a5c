"""PROTOCOL.md's Presence section, on the test app's folders, in one process.

The same tests run on the in-memory store and, with REDIS_URL, on Redis.
Across processes (a server killed, Redis restarted): test_live_presence.py.
"""

import json
from types import SimpleNamespace

import pytest

from realtime_api.presence import requests as presence
from realtime_api.presence.hub import Room
from realtime_api.testing import events_until_quiet, expect_ok, join, subscribe

from .helpers import communicator, save
from .testapp.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_grace(settings):
    """A closed socket leaves at once (the grace period has tests of its own)."""
    settings.REALTIME_API_PRESENCE_GRACE_SECONDS = 0


def member(user):
    return {"id": user.pk, "name": user.username}


def presence_event(folder, joined=(), left=()):
    return {
        "type": "event",
        "stream": "folders",
        "action": "presence",
        "lookup": str(folder.pk),
        "data": {"joined": list(joined), "left": list(left)},
    }


async def test_join_lists_each_present_user_once(world, user, other):
    """The response lists everyone present once however many sockets, itself too."""
    folder = world.public_folder
    async with (
        communicator(user) as first,
        communicator(user) as second,
        communicator(other) as third,
    ):
        assert await join(first, "folders", folder.pk) == [member(user)]
        assert await join(second, "folders", folder.pk) == [member(user)]
        # By name: "other" before "user".
        assert await join(third, "folders", folder.pk) == [member(other), member(user)]
        # Joining again changes nothing.
        assert await join(third, "folders", folder.pk) == [member(other), member(user)]


async def test_others_hear_who_arrives_and_who_leaves(world, user, other):
    """Arrivals and departures reach the others; never the socket's own join."""
    folder = world.public_folder
    async with communicator(user) as mine, communicator(other) as theirs:
        await join(mine, "folders", folder.pk)
        await join(theirs, "folders", folder.pk)
        arrived = await mine.receive_event()
        assert arrived == presence_event(folder, joined=[member(other)])
        assert "seq" not in arrived  # Not logged, not replayed.
        assert await theirs.queue_empty()

        response = await theirs.request("folders", "leave", folder.pk)
        assert expect_ok(response, 200)["data"] == {"detail": "left"}
        assert await mine.receive_event() == presence_event(
            folder, left=[member(other)]
        )
        # Gone: no more events about the folder's presence.
        await join(mine, "folders", world.others_folder.pk)
        assert await theirs.queue_empty()


async def test_a_user_arrives_with_the_first_socket_and_leaves_with_the_last(
    world, user, other
):
    """Several sockets of one user: one arrival, and a departure with the last."""
    folder = world.public_folder
    async with communicator(user) as watcher:
        await join(watcher, "folders", folder.pk)
        async with communicator(other) as first_tab:
            await join(first_tab, "folders", folder.pk)
            assert await watcher.receive_event() == presence_event(
                folder, joined=[member(other)]
            )
            async with communicator(other) as second_tab:
                await join(second_tab, "folders", folder.pk)
                assert await watcher.queue_empty(0.3)
            assert await watcher.queue_empty(0.3)  # Still there in the first tab.
        assert await watcher.receive_event() == presence_event(
            folder, left=[member(other)]
        )


async def test_a_reconnect_within_the_grace_period_is_not_seen(
    settings, world, user, other
):
    """A closed socket's user stays for the grace period: a reload shows nothing."""
    settings.REALTIME_API_PRESENCE_GRACE_SECONDS = 0.5
    folder = world.public_folder
    async with communicator(user) as watcher:
        await join(watcher, "folders", folder.pk)
        async with communicator(other) as tab:
            await join(tab, "folders", folder.pk)
        await watcher.receive_event()  # other joined
        async with communicator(other) as reloaded:
            await join(reloaded, "folders", folder.pk)
        assert await watcher.queue_empty(0.3)
        event = await watcher.receive_event(timeout=2)
        assert event == presence_event(folder, left=[member(other)])


async def test_a_signal_reaches_every_other_socket_present(world, user, other):
    """The sender's other sockets and the other users get it; the sender does not."""
    folder = world.public_folder
    async with (
        communicator(user) as sender,
        communicator(user) as senders_tab,
        communicator(other) as receiver,
        communicator(other) as elsewhere,
    ):
        for ws in (sender, senders_tab, receiver):
            await join(ws, "folders", folder.pk)
        await join(elsewhere, "folders", world.others_folder.pk)
        for ws in (sender, senders_tab):
            await events_until_quiet(ws)  # Who joined.

        payload = {"typing": True}
        response = await sender.request("folders", "signal", folder.pk, payload)
        assert expect_ok(response, 200)["data"] == {"detail": "sent"}
        expected = {
            "type": "event",
            "stream": "folders",
            "action": "signal",
            "lookup": str(folder.pk),
            "data": {"from": member(user), "payload": payload},
        }
        for ws in (senders_tab, receiver):
            events = [
                e for e in await events_until_quiet(ws) if e["action"] == "signal"
            ]
            assert events == [expected]
        assert await sender.queue_empty(0.2)
        assert await elsewhere.queue_empty(0.1)


async def test_a_signal_is_never_logged(world, user):
    """Signals take no seq: the folder's next change follows the last one."""
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "folders", {"id": folder.pk})
        await join(ws, "folders", folder.pk)
        await save(folder, name="one")
        before = (await ws.receive_event())["seq"]
        for _ in range(3):
            await ws.request("folders", "signal", folder.pk, {"typing": True})
        await save(folder, name="two")
        assert (await ws.receive_event())["seq"] == before + 1


async def test_signals_need_a_join(world, user, other):
    """A socket that has not joined (or has left) may not signal: 403."""
    folder = world.public_folder
    async with communicator(user) as ws:
        response = await ws.request("folders", "signal", folder.pk, {"typing": True})
        assert response["status"] == 403, response
        assert "join" in response["data"]["detail"]
        await join(ws, "folders", folder.pk)
        await ws.request("folders", "leave", folder.pk)
        response = await ws.request("folders", "signal", folder.pk, {"typing": True})
        assert response["status"] == 403, response


async def test_a_signal_over_one_kib_is_a_413(world, user, other):
    """A payload of more than 1024 bytes of JSON is refused and not relayed."""
    folder = world.public_folder
    async with communicator(user) as ws, communicator(other) as receiver:
        await join(ws, "folders", folder.pk)
        await join(receiver, "folders", folder.pk)
        fits = {"t": "x" * (1024 - len('{"t":""}'))}
        expect_ok(await ws.request("folders", "signal", folder.pk, fits), 200)
        too_big = {"t": "x" * (1025 - len('{"t":""}'))}
        response = await ws.request("folders", "signal", folder.pk, too_big)
        assert response["status"] == 413, response
        signals = [
            e for e in await events_until_quiet(receiver) if e["action"] == "signal"
        ]
        assert [e["data"]["payload"] for e in signals] == [fits]


async def test_signals_are_rate_limited(settings, world, user):
    """Past the burst a signal is answered 429 with the seconds to wait."""
    settings.REALTIME_API_PRESENCE_SIGNALS_PER_SECOND = 0.5
    settings.REALTIME_API_PRESENCE_SIGNAL_BURST = 3
    folder = world.public_folder
    async with communicator(user) as ws:
        await join(ws, "folders", folder.pk)
        statuses = []
        for _ in range(4):
            response = await ws.request("folders", "signal", folder.pk, {"n": 1})
            statuses.append(response["status"])
        assert statuses == [200, 200, 200, 429]
        assert response["data"]["wait"] == 2


async def test_joining_is_a_retrieve(world, user, other):
    """A folder the user may not see is the same 404 as `retrieve`, and stays secret."""
    private = world.private_folder
    async with communicator(other) as outsider, communicator(user) as owner:
        retrieved = await outsider.request("folders", "retrieve", private.pk)
        joined = await outsider.request("folders", "join", private.pk)
        assert joined["status"] == retrieved["status"] == 404
        assert joined["data"] == retrieved["data"]
        missing = await outsider.request("folders", "join", 999999)
        assert (missing["status"], missing["data"]) == (404, retrieved["data"])
        assert await join(owner, "folders", private.pk) == [member(user)]
        response = await outsider.request("folders", "signal", private.pk, {"a": 1})
        assert response["status"] == 403


async def test_anonymous_sockets_cannot_join(world):
    """Presence shows who is there: anonymous users get 403 (or retrieve's 404)."""
    async with communicator(None) as ws:
        response = await ws.request("folders", "join", world.public_folder.pk)
        assert response["status"] == 403, response
        response = await ws.request("folders", "join", world.private_folder.pk)
        assert response["status"] == 404, response


async def test_a_folder_made_private_takes_the_others_out(world, user, other):
    """The owner stays and hears the others leave; they are told everyone left."""
    folder = world.public_folder
    async with communicator(user) as owner, communicator(other) as guest:
        await join(owner, "folders", folder.pk)
        await join(guest, "folders", folder.pk)
        await owner.receive_event()  # other joined

        await save(folder, is_private=True)

        assert await guest.receive_event() == presence_event(
            folder, left=[member(other), member(user)]
        )
        assert await owner.receive_event() == presence_event(
            folder, left=[member(other)]
        )
        response = await guest.request("folders", "signal", folder.pk, {"a": 1})
        assert response["status"] == 403
        assert (await guest.request("folders", "join", folder.pk))["status"] == 404
        assert await owner.queue_empty()


async def test_a_deleted_folder_takes_everyone_out(world, user, other):
    """Deleting the object ends its presence: each socket is told everyone left."""
    folder = world.public_folder
    async with communicator(user) as owner, communicator(other) as guest:
        await join(owner, "folders", folder.pk)
        await join(guest, "folders", folder.pk)
        await owner.receive_event()

        await folder.adelete()

        # Whoever is taken out first is told everyone left; the other hears
        # that one leave, then that everyone else did.
        for ws in (owner, guest):
            events = await events_until_quiet(ws)
            assert all(e["data"]["joined"] == [] for e in events)
            left = [m for e in events for m in e["data"]["left"]]
            assert sorted(left, key=lambda m: m["id"]) == [member(user), member(other)]


@pytest.fixture
def note_presence(monkeypatch):
    """Presence on notes too, whose visibility their folder decides (a recheck)."""
    from .testapp.streams import NoteStream, registry

    adapter = registry.get("notes")
    monkeypatch.setattr(NoteStream, "presence", True)
    actions = adapter.allowed_actions | {"join", "leave", "signal"}
    monkeypatch.setattr(adapter, "allowed_actions", actions)


async def test_a_recheck_takes_out_who_may_no_longer_see(
    note_presence, world, user, other
):
    """A folder made private hides its notes: their presence loses the others."""
    note = world.public_note
    async with communicator(user) as owner, communicator(other) as guest:
        await join(owner, "notes", note.pk)
        await join(guest, "notes", note.pk)
        await owner.receive_event()  # other joined

        await save(world.public_folder, is_private=True)

        removed = await guest.receive_event()
        assert removed["data"] == {"joined": [], "left": [member(other), member(user)]}
        assert (await owner.receive_event())["data"]["left"] == [member(other)]


async def test_a_folder_hidden_while_joining_is_not_joined(monkeypatch, world, other):
    """A change committed while the join reads the object is not missed."""
    folder = world.public_folder
    find_target = presence.find_target

    def find_then_hide(endpoint, lookup, check=True):
        target = find_target(endpoint, lookup, check)
        if check:  # Between the first read and the listener: no event at all.
            Folder.objects.filter(pk=folder.pk).update(is_private=True)
        return target

    monkeypatch.setattr(presence, "find_target", find_then_hide)
    async with communicator(other) as guest:
        response = await guest.request("folders", "join", folder.pk)
        assert response["status"] == 404, response


async def test_presence_is_opt_in_per_stream(world, user):
    """A stream without `presence = True` answers join with 405."""
    async with communicator(user) as ws:
        response = await ws.request("notes", "join", world.public_note.pk)
        assert response["status"] == 405, response


@pytest.mark.parametrize("action", ["join", "leave", "signal"])
async def test_presence_actions_need_a_lookup(world, user, action):
    async with communicator(user) as ws:
        response = await ws.request("folders", action)
        assert response["status"] == 400, response
        assert "lookup" in response["data"]["detail"]


async def test_leaving_what_was_not_joined_is_fine(world, user):
    """`leave` is idempotent: 200 whether or not the socket was present."""
    async with communicator(user) as ws:
        response = await ws.request("folders", "leave", world.public_folder.pk)
        assert expect_ok(response, 200)["data"] == {"detail": "left"}


async def test_objects_per_socket_are_limited(settings, world, user):
    """Joining more objects than REALTIME_API_PRESENCE_MAX_ROOMS is a 429, no wait."""
    settings.REALTIME_API_PRESENCE_MAX_ROOMS = 1
    async with communicator(user) as ws:
        await join(ws, "folders", world.public_folder.pk)
        response = await ws.request("folders", "join", world.others_folder.pk)
        assert response["status"] == 429, response
        assert "wait" not in response["data"]
        await ws.request("folders", "leave", world.public_folder.pk)
        await join(ws, "folders", world.others_folder.pk)


async def test_names_come_from_the_endpoint(world, user, other, monkeypatch):
    """get_presence_member() decides how a user appears to the others."""
    from .testapp.streams import FolderStream

    def with_title(self, user):
        return {"id": user.pk, "name": user.username.title()}

    monkeypatch.setattr(FolderStream, "get_presence_member", with_title)
    async with communicator(user) as ws:
        members = await join(ws, "folders", world.public_folder.pk)
        assert members == [{"id": user.pk, "name": "User"}]


@pytest.mark.parametrize(("heartbeat", "ttl"), [(5, 26), (5, 5), (0, 10), ("5", 15)])
def test_presence_must_end_within_30_s_of_a_dead_process(settings, heartbeat, ttl):
    """manage.py check refuses a heartbeat and TTL that could keep ghosts > 30 s."""
    from realtime_api.apps import check_presence_seconds

    settings.REALTIME_API_PRESENCE_HEARTBEAT_SECONDS = heartbeat
    settings.REALTIME_API_PRESENCE_TTL_SECONDS = ttl
    assert [e.id for e in check_presence_seconds(None)] == ["realtime_api.E003"]
    settings.REALTIME_API_PRESENCE_HEARTBEAT_SECONDS = 5
    settings.REALTIME_API_PRESENCE_TTL_SECONDS = 15
    assert check_presence_seconds(None) == []


def test_each_socket_gets_the_net_change_since_it_was_last_told():
    """Batched changes: who came and went is not sent; a socket that joined
    meanwhile hears only what changed after its join's answer."""
    room = Room("folders", 1, "1")
    room.read(SimpleNamespace(version=1, members={}, gone={}))
    x, y, z = ({"id": n, "name": n} for n in "xyz")
    room.add_socket("early", "e")
    room.apply(2, {"x": x, "y": y}, {})
    room.add_socket("late", "l")  # Its answer listed x and y.
    room.apply(3, {"z": z}, {"x": x})
    room.apply(3, {}, {"stale": x})  # Nobody it knows: no change.
    frames = {tuple(sockets): json.loads(frame) for frame, sockets in room.batches()}
    assert frames[("early",)]["data"] == {"joined": [y, z], "left": []}
    assert frames[("late",)]["data"] == {"joined": [z], "left": [x]}
    assert room.batches() == []  # All sent.
