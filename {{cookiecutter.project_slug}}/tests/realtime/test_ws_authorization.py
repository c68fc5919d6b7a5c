"""PROTOCOL.md v1.1: every event is authorized for its receiver when delivered.

What a user could see when subscribing grants nothing later: each test takes
the part of the user who should stop seeing something, and checks the frames
they get against what HTTP lets them retrieve at that moment.
"""

import pytest
from channels.db import database_sync_to_async

from realtime_api.testing import events_until_quiet, subscribe, watch

from .helpers import communicator, http_twin, save
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_folder_made_private_stops_every_subscription_of_another_user(
    world, user, other
):
    """The reported leak: after a folder turns private, another user's
    subscriptions (by folder, by ids, by `is_private`) get `leave` once and then
    nothing, not the new note nor the new name."""
    folder = world.public_folder
    async with communicator(other) as theirs:
        await subscribe(theirs, "notes", {"folder": folder.pk})
        await subscribe(theirs, "folders", {"ids": [folder.pk]})
        await subscribe(theirs, "folders", {"is_private": False})

        await save(folder, is_private=True)
        left = await events_until_quiet(theirs)
        assert {(e["stream"], e["action"]) for e in left} == {
            ("folders", "leave"),
            ("notes", "leave"),
        }
        assert [e["data"] for e in left if e["stream"] == "folders"] == [
            {"id": folder.pk}
        ]
        note_leaves = sorted(e["data"]["id"] for e in left if e["stream"] == "notes")
        assert note_leaves == sorted(n.pk for n in world.notes)
        assert all(set(e["data"]) == {"id"} for e in left)

        await Note.objects.acreate(folder=folder, author=user, text="private now")
        await save(folder, name="Secret name")
        await save(world.public_note, text="secret edit")
        assert await theirs.queue_empty(0.3)
        status, _ = await http_twin(other, "folders", "retrieve", folder.pk)
        assert status == 404


async def test_the_owner_keeps_hearing_of_their_private_folder(world, user):
    """The same change that hides a folder from others is an update for its owner."""
    folder = world.public_folder
    async with communicator(user) as mine:
        await subscribe(mine, "folders", {"ids": [folder.pk]})
        await subscribe(mine, "notes", {"folder": folder.pk})
        await save(folder, is_private=True)
        event = await mine.receive_event()
        assert (event["action"], event["data"]["is_private"]) == ("update", True)
        assert await mine.queue_empty(0.3)  # Its notes stay visible to them.
        note = await Note.objects.acreate(folder=folder, author=user, text="mine")
        event = await mine.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", note.pk)


async def test_a_folder_made_public_again_is_heard_of_again(world, user, other):
    """`leave` lasts until the object may be seen again: then events resume."""
    folder = world.public_folder
    async with communicator(other) as theirs:
        await subscribe(theirs, "notes", {"folder": folder.pk})
        await save(folder, is_private=True)
        await events_until_quiet(theirs)
        await save(folder, is_private=False)
        assert await theirs.queue_empty(0.3)  # Subscriptions are not watches.
        note = await Note.objects.acreate(folder=folder, author=user, text="back")
        event = await theirs.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", note.pk)


async def test_a_note_moved_to_another_folder_leaves_the_old_folders_subscribers(
    world, user, other
):
    """Moving a note announces `leave` to the old folder's subscribers; the
    new folder's subscribers who may see it get the update; others nothing."""
    note = world.public_note
    private = world.private_folder
    async with (
        communicator(other) as theirs,
        communicator(user) as old_folder,
        communicator(user) as new_folder,
    ):
        await subscribe(theirs, "notes", {"folder": world.public_folder.pk})
        await subscribe(old_folder, "notes", {"folder": world.public_folder.pk})
        await subscribe(new_folder, "notes", {"folder": private.pk})
        await save(note, folder=private)
        for ws in (theirs, old_folder):
            event = await ws.receive_event()
            assert (event["action"], event["data"]) == ("leave", {"id": note.pk})
            assert await ws.queue_empty(0.2)
        moved = await new_folder.receive_event()
        assert (moved["action"], moved["data"]["folder"]) == ("update", private.pk)
        await save(note, text="after the move")
        assert await theirs.queue_empty(0.3)
        assert await old_folder.queue_empty(0.1)
        assert (await new_folder.receive_event())["data"]["text"] == "after the move"


async def test_a_note_moved_by_id_subscription_follows_the_object(world, user):
    """A subscription by id follows the object wherever it moves, while visible."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        await save(note, folder=world.private_folder)
        event = await ws.receive_event()
        assert (event["action"], event["data"]["folder"]) == (
            "update",
            world.private_folder.pk,
        )


async def test_deletes_reach_only_sockets_that_were_told_of_the_object(
    world, user, other
):
    """A note created and deleted while hidden: its id reaches nobody else."""
    folder = world.public_folder
    async with communicator(other) as theirs:
        await subscribe(theirs, "notes", {"folder": folder.pk})
        await save(folder, is_private=True)
        await events_until_quiet(theirs)
        secret = await Note.objects.acreate(folder=folder, author=user, text="x")
        await secret.adelete()
        await world.public_note.adelete()  # Told to leave already.
        assert await theirs.queue_empty(0.3)


async def test_events_are_rendered_for_each_receiver(world, user, other, admin):
    """One change, three users: each gets the object as they would retrieve it."""
    note = world.public_note
    sockets = {}
    async with (
        communicator(user) as sockets["author"],
        communicator(other) as sockets["other"],
        communicator(admin) as sockets["staff"],
        communicator() as sockets["anonymous"],
    ):
        for ws in sockets.values():
            await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        await save(note, text="rendered per user")
        users = {"author": user, "other": other, "staff": admin, "anonymous": None}
        for role, ws in sockets.items():
            event = await ws.receive_event()
            _, body = await http_twin(users[role], "notes", "retrieve", note.pk)
            assert event["data"] == body, role
            assert event["data"]["can_edit"] is (role == "author")


async def test_a_replay_sends_what_the_user_may_see_now(world, user, other):
    """`since` after a reconnect: each missed object as the user sees it now;
    one moved out of sight arrives as `leave`; one created and deleted
    meanwhile not at all."""
    folder = world.public_folder
    edited, moved = world.notes[1], world.notes[2]
    async with communicator(other) as theirs:
        await subscribe(theirs, "notes", {"folder": folder.pk})
        await save(world.public_note, text="seen")
        since = (await theirs.receive_event())["seq"]
    await save(edited, text="missed")
    await save(moved, folder=world.private_folder, text="moved out of sight")
    gone = await Note.objects.acreate(folder=folder, author=user, text="gone")
    await gone.adelete()
    async with communicator(other) as theirs:
        response = await subscribe(theirs, "notes", {"folder": folder.pk}, since=since)
        assert response["resumed"] is True
        replayed = await events_until_quiet(theirs)
    _, now = await http_twin(other, "notes", "retrieve", edited.pk)
    assert [(e["action"], e["data"]) for e in replayed] == [
        ("update", now),
        ("leave", {"id": moved.pk}),
    ]


async def test_a_hidden_folder_cannot_be_resumed_into(world, user, other):
    """After the folder turned private, subscribing to it again is refused like a
    missing folder, and an id subscription to its note matches nothing."""
    folder = world.public_folder
    async with communicator(other) as theirs:
        await subscribe(theirs, "notes", {"folder": folder.pk})
        await save(world.public_note, text="seen")
        since = (await theirs.receive_event())["seq"]
    await save(folder, is_private=True)
    await save(world.public_note, text="secret")
    async with communicator(other) as theirs:
        response = await theirs.request(
            "notes", "subscribe", payload={"folder": folder.pk}, since=since
        )
        assert response["status"] == 400
        by_id = {"id": world.public_note.pk}
        response = await subscribe(theirs, "notes", by_id, since=since)
        assert (response["resumed"], response["data"]["matched"]) == (True, 0)
        assert await theirs.queue_empty(0.3)


async def test_an_http_write_is_authorized_like_a_socket_write(world, user, other):
    """Changes made over HTTP or in a shell follow the same rule."""
    folder = world.public_folder
    async with communicator(other) as theirs:
        await subscribe(theirs, "folders", {"is_private": False})
        status, _ = await http_twin(
            user, "folders", "update", folder.pk, {"is_private": True}
        )
        assert status == 200
        event = await theirs.receive_event()
        assert (event["action"], event["data"]) == ("leave", {"id": folder.pk})

        await database_sync_to_async(Folder.objects.filter(pk=folder.pk).update)(
            name="bulk, no signal"
        )
        assert await theirs.queue_empty(0.2)


@pytest.mark.parametrize("query", [{"search": "apple"}, "folder"])
async def test_a_folder_made_private_updates_another_users_notes_watch_at_once(
    world, user, other, query
):
    """Related visibility: the folder's notes leave the watch when it turns
    private (a query on that very folder matches nothing for them then), and
    enter again when it turns public."""
    folder = world.public_folder
    query = {"folder": folder.pk} if query == "folder" else query
    async with communicator(other) as theirs:
        snapshot = await watch(theirs, "notes", query)
        shown = {n["id"] for n in snapshot["data"]["results"]}
        assert shown and shown <= {n.pk for n in world.notes}
        await save(folder, is_private=True)
        left = await events_until_quiet(theirs)
        assert {e["action"] for e in left} == {"leave"}
        assert {e["data"]["id"] for e in left} == shown
        await save(folder, is_private=False)
        entered = await events_until_quiet(theirs)
        assert {e["action"] for e in entered} == {"enter"}
        assert {e["data"]["id"] for e in entered} == shown
        for event in entered:
            _, body = await http_twin(other, "notes", "retrieve", event["data"]["id"])
            assert event["data"] == body
