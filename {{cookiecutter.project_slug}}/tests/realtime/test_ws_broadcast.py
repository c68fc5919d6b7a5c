"""PROTOCOL.md's event frame section: who hears of which change, and when."""

import asyncio
import contextvars
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from realtime_api.delivery.broadcast import broadcast
from realtime_api.streams.registry import get_registry
from realtime_api.testing import expect_ok, subscribe

from .helpers import communicator, http_twin
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


class Undo(Exception):
    """Raised inside a transaction to roll it back."""


async def test_event_frame_shape(world, user):
    """An event has type, stream, action, seq and data (the object as GET detail)."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        note.text = "changed"
        await note.asave()
        event = await ws.receive_event()
    assert list(event) == ["type", "stream", "action", "seq", "data"]
    assert isinstance(event["seq"], int)
    assert (event["type"], event["stream"], event["action"]) == (
        "event",
        "notes",
        "update",
    )
    assert (200, event["data"]) == await http_twin(user, "notes", "retrieve", note.pk)


async def test_event_is_sent_after_commit_only(world, user):
    """Nothing is sent while the write is uncommitted; the event follows COMMIT."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})

        def write():
            with transaction.atomic():
                Note.objects.filter(pk=note.pk).get().save()
                # Still inside the transaction: the socket must hear nothing.
                assert async_to_sync(ws.queue_empty)()

        await database_sync_to_async(write)()
        assert (await ws.receive_event())["data"]["id"] == note.pk


@pytest.mark.parametrize("change", ["create", "update", "delete"])
async def test_rolled_back_write_sends_nothing(world, user, change):
    """A create, update or delete that is rolled back sends no event."""
    note = world.public_note

    def write():
        with transaction.atomic():
            if change == "create":
                Note.objects.create(folder=world.public_folder, author=user, text="x")
            elif change == "update":
                note.save()
            else:
                Note.objects.get(pk=note.pk).delete()
            raise Undo

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        with pytest.raises(Undo):
            await database_sync_to_async(write)()
        assert await ws.queue_empty()
    assert await Note.objects.filter(pk=note.pk).aexists()


async def test_rolled_back_savepoint_sends_nothing(world, user):
    """Only the writes that commit send events: a rolled-back savepoint sends none."""
    kept, undone = world.notes[:2]

    def write():
        with transaction.atomic():
            kept.save()
            try:
                with transaction.atomic():
                    undone.save()
                    raise Undo
            except Undo:
                pass

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        await database_sync_to_async(write)()
        assert (await ws.receive_event())["data"]["id"] == kept.pk
        assert await ws.queue_empty()


async def test_orm_change_reaches_subscribers(world, user):
    """A change made with the ORM (as in a shell) is an event."""
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        created = await Note.objects.acreate(
            folder=world.public_folder, author=user, text="from a shell"
        )
        event = await ws.receive_event()
    assert (event["action"], event["data"]["text"]) == ("create", "from a shell")
    assert event["data"]["id"] == created.pk


@pytest.mark.parametrize(
    ("method", "action"),
    [("post", "create"), ("patch", "update"), ("delete", "delete")],
)
async def test_http_change_reaches_subscribers(world, user, method, action):
    """A change made over HTTP (DRF's APIClient) is an event."""
    note = world.public_note

    def over_http():
        client = APIClient()
        client.force_login(user)
        if method == "post":
            data = {"folder": world.public_folder.pk, "text": "over http"}
            return client.post("/api/notes/", data, format="json")
        url = f"/api/notes/{note.pk}/"
        if method == "patch":
            return client.patch(url, {"text": "over http"}, format="json")
        return client.delete(url)

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        response = await database_sync_to_async(over_http)()
        assert response.status_code < 300
        event = await ws.receive_event()
    assert event["action"] == action
    if action == "delete":
        assert event["data"] == {"id": note.pk}
    else:
        assert event["data"] == response.json()


async def test_admin_change_reaches_subscribers(world, user, admin):
    """A change saved in the admin's change form is an event."""
    note = world.public_note

    def in_the_admin():
        client = Client()
        client.force_login(admin)
        return client.post(
            f"/admin/testapp/note/{note.pk}/change/",
            {
                "folder": note.folder_id,
                "author": note.author_id,
                "text": "edited in the admin",
                "_save": "Save",
            },
        )

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        response = await database_sync_to_async(in_the_admin)()
        assert response.status_code == 302, response.content[:500]
        event = await ws.receive_event()
    assert (event["action"], event["data"]["text"]) == ("update", "edited in the admin")


async def test_socket_change_gives_the_response_then_the_event(world, user):
    """The client that changes an object gets its response frame, then the event."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        frame = {
            "stream": f"notes/update/{note.pk}/",
            "payload": {"text": "mine"},
            "request_id": "u1",
        }
        await ws.send_json_to(frame)
        response = json.loads(await ws.receive_from())
        event = json.loads(await ws.receive_from())
        assert await ws.queue_empty()
    assert (response["type"], response["request_id"]) == ("response", "u1")
    assert (event["type"], event["action"]) == ("event", "update")
    assert event["data"] == response["data"]


async def test_unsubscribed_writer_gets_no_event(world, user, other):
    """A socket that is not subscribed gets its response only; subscribers the event."""
    async with communicator(user) as writer, communicator(other) as reader:
        await subscribe(reader, "notes", {"folder": world.public_folder.pk})
        payload = {"folder": world.public_folder.pk, "text": "hello"}
        created = await writer.request("notes", "create", payload=payload)
        assert created["status"] == 201
        assert await writer.queue_empty()
        event = await reader.receive_event()
    # The object as the reader would retrieve it: the same, but not theirs to edit.
    assert (event["action"], event["data"]) == (
        "create",
        {**created["data"], "can_edit": False},
    )
    _, as_read = await http_twin(other, "notes", "retrieve", created["data"]["id"])
    assert event["data"] == as_read


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_delete_event_data_is_the_pk(world, user, stream):
    """A delete event's data is `{"id": pk}`."""
    obj = world.others_folder if stream == "folders" else world.public_note
    pk = obj.pk
    async with communicator(user) as ws:
        await subscribe(ws, stream, {"id": pk})
        await obj.adelete()
        event = await ws.receive_event()
        assert await ws.queue_empty()
    assert (event["action"], event["data"]) == ("delete", {"id": pk})


async def test_folder_create_and_update_events(world, user):
    """Folders broadcast too: an update of a subscribed folder, over the socket."""
    async with communicator(user) as ws:
        created = await ws.request("folders", "create", payload={"name": "New"})
        pk = created["data"]["id"]
        await subscribe(ws, "folders", {"id": pk})
        updated = await ws.request("folders", "update", pk, {"name": "Newer"})
        event = await ws.receive_event()
    assert (event["action"], event["data"]) == ("update", updated["data"])


async def test_queryset_update_sends_nothing_but_broadcast_does(world, user):
    """`QuerySet.update()` sends no event; `broadcast(queryset)` afterwards does."""
    folder = world.public_folder
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": folder.pk})
        changed = Note.objects.filter(folder=folder, text__startswith="apple")
        count = await changed.aupdate(text="[removed]")
        assert count == 2
        assert await ws.queue_empty()

        await database_sync_to_async(broadcast)(Note.objects.filter(folder=folder))
        events = [await ws.receive_event() for _ in world.notes]
        assert await ws.queue_empty()
    assert {e["action"] for e in events} == {"update"}
    assert sorted(e["data"]["text"] for e in events).count("[removed]") == 2


async def test_broadcast_in_a_rolled_back_transaction_sends_nothing(world, user):
    """broadcast() waits for the commit too."""

    def write():
        with transaction.atomic():
            broadcast(world.public_note)
            raise Undo

    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": world.public_note.pk})
        with pytest.raises(Undo):
            await database_sync_to_async(write)()
        assert await ws.queue_empty()


async def test_overlapping_subscriptions_get_each_event_once(world, user):
    """A change that two subscriptions of one socket cover arrives once."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        await subscribe(ws, "notes", {"text": note.text})
        note.text = "once"
        await note.asave()
        event = await ws.receive_event()
        assert await ws.queue_empty()
    assert event["data"]["text"] == "once"


async def test_every_subscriber_gets_the_event(world, user, other, admin):
    """One change reaches every subscribed socket, once each."""
    async with (
        communicator(user) as one,
        communicator(other) as two,
        communicator(admin) as three,
        communicator(None) as bystander,
    ):
        for ws in (one, two, three):
            await subscribe(ws, "folders", {"id": world.public_folder.pk})
        await Folder.objects.filter(pk=world.public_folder.pk).aupdate(name="x")
        await database_sync_to_async(broadcast)(
            Folder.objects.filter(pk=world.public_folder.pk)
        )
        for ws in (one, two, three):
            assert (await ws.receive_event())["data"]["name"] == "x"
            assert await ws.queue_empty()
        assert await bystander.queue_empty()


async def test_a_write_is_published_when_its_socket_closes_at_once(
    world, user, monkeypatch
):
    """The writer closes right after its answer, before its change is published.

    Closing cancels the writer's wait for publishing, not the publishing: the
    change still reaches the others (the event log is held up meanwhile).
    """
    event_log = get_registry().runtime().event_log
    append, logging = event_log.append, asyncio.Event()

    async def held_up(change):
        await logging.wait()
        return await append(change)

    monkeypatch.setattr(event_log, "append", held_up)
    folder = world.public_folder.pk
    async with communicator(user) as listener:
        await subscribe(listener, "notes", {"folder": folder})
        async with communicator(user) as writer:
            payload = {"folder": folder, "text": "written, then gone"}
            created = await writer.request("notes", "create", payload=payload)
            expect_ok(created, 201)
        logging.set()
        event = await listener.receive_event(timeout=5)
    assert (event["action"], event["data"]["id"]) == ("create", created["data"]["id"])


async def test_a_write_from_a_task_that_outlived_its_request_is_published(world, user):
    """A task started during a socket request keeps the request's context.

    What it writes after the request has run is published all the same.
    """
    with get_registry().runtime().publisher.collecting():
        kept = contextvars.copy_context()  # What a task started then holds.
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        note.text = "written after the request"
        await kept.run(asyncio.ensure_future, note.asave())
        event = await ws.receive_event(timeout=5)
    assert event["data"]["text"] == "written after the request"


@pytest.mark.postgres
async def test_the_hub_gives_its_database_connection_back(world, user):
    """After evaluating a change, the hub's thread holds no connection.

    With the pool (CONN_MAX_AGE 0) a connection it kept would never go back:
    one per event loop, until the pool is empty and every request waits.
    """
    from django.db import connection

    from realtime_api.streams.registry import get_registry

    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        await note.asave()
        await ws.receive_event()
        hub = get_registry().runtime().hub
        holds = hub.executor.submit(lambda: connection.connection is not None)
        assert not holds.result(timeout=5)
