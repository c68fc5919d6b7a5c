"""Live queries: `watch` answers like `list`, then sends enter/update/leave."""

import pytest

from realtime_api.sockets import watch as watch_module
from realtime_api.streams.registry import get_registry
from realtime_api.testing import watch

from .helpers import communicator, http_twin, save
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


def live_queries(stream="notes"):
    return get_registry().runtime().hub.listeners(stream).live_queries


async def test_watch_answers_like_list_plus_a_watch_id(world, user):
    """The response is the HTTP list body for the same parameters, plus `watch`."""
    payload = {"folder": world.public_folder.pk, "search": "apple", "page_size": 1}
    async with communicator(user) as ws:
        response = await watch(ws, "notes", payload)
        other = await watch(ws, "notes", payload)
    assert (200, response["data"]) == await http_twin(
        user, "notes", "list", None, payload
    )
    assert response["watch"] and response["watch"] != other["watch"]


async def test_enter_update_leave_as_objects_move(world, user):
    """Create into, change within, change out of, and delete from the query."""
    folder = world.public_folder
    async with communicator(user) as ws:
        watch_id = (await watch(ws, "notes", {"folder": folder.pk, "search": "apple"}))[
            "watch"
        ]
        note = await Note.objects.acreate(folder=folder, author=user, text="apple pie")
        entered = await ws.receive_event()
        assert (entered["action"], entered["watch"]) == ("enter", watch_id)
        assert (200, entered["data"]) == await http_twin(
            user, "notes", "retrieve", note.pk
        )

        await save(note, text="green apple pie")
        updated = await ws.receive_event()
        assert (updated["action"], updated["data"]["text"]) == (
            "update",
            "green apple pie",
        )

        await save(note, text="pear")
        left = await ws.receive_event()
        assert (left["action"], left["data"]) == ("leave", {"id": note.pk})

        await save(note, text="apple again")
        assert (await ws.receive_event())["action"] == "enter"

        note_id = note.pk
        await note.adelete()
        left = await ws.receive_event()
        assert (left["action"], left["data"]) == ("leave", {"id": note_id})
        assert await ws.queue_empty()


async def test_changes_outside_the_query_send_nothing(world, user):
    """Objects that never match are never sent."""
    async with communicator(user) as ws:
        await watch(ws, "notes", {"folder": world.public_folder.pk})
        await Note.objects.acreate(folder=world.others_folder, author=user, text="x")
        await save(world.others_note, text="elsewhere")
        assert await ws.queue_empty(0.3)


async def test_pagination_narrows_the_snapshot_only(world, user):
    """Events cover the whole query, not only the first page."""
    async with communicator(user) as ws:
        response = await watch(
            ws, "notes", {"folder": world.public_folder.pk, "page_size": 1}
        )
        assert len(response["data"]["results"]) == 1
        last = world.notes[-1]
        await save(last, text="changed")
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("update", last.pk)


async def test_a_folder_made_private_leaves_another_users_watch(world, user, other):
    """A visibility change is a leave for those who can no longer see it."""
    folder = world.public_folder
    async with communicator(other) as theirs, communicator(user) as owners:
        await watch(theirs, "folders", {"is_private": False})
        await watch(owners, "folders", {"name": "Apples"})
        await save(folder, is_private=True)
        assert (await theirs.receive_event())["action"] == "leave"
        assert (await owners.receive_event())["action"] == "update"
        await save(folder, is_private=False)
        assert (await theirs.receive_event())["action"] == "enter"


async def test_no_leak_to_another_user(world, user, other):
    """A private folder and its notes never reach another or anonymous watcher."""
    async with communicator(other) as theirs, communicator() as anonymous:
        for ws in (theirs, anonymous):
            await watch(ws, "folders", {"is_private": True})
            await watch(ws, "notes", {"search": "secret"})
        await Folder.objects.acreate(name="Hidden", owner=user, is_private=True)
        await save(world.private_folder, name="Still hidden")
        await Note.objects.acreate(
            folder=world.private_folder, author=user, text="secret"
        )
        await save(world.private_note, text="secret again")
        assert await theirs.queue_empty(0.3)
        assert await anonymous.queue_empty(0.1)


async def test_a_change_right_after_the_snapshot_is_not_lost(world, user, monkeypatch):
    """A change committed after the snapshot was read still arrives (as enter)."""
    folder = world.public_folder
    read = watch_module.snapshot

    def snapshot_then_change(*args):
        result = read(*args)
        Note.objects.create(folder=folder, author=user, text="just after")
        return result

    monkeypatch.setattr(watch_module, "snapshot", snapshot_then_change)
    async with communicator(user) as ws:
        response = await watch(ws, "notes", {"folder": folder.pk})
        assert "just after" not in [n["text"] for n in response["data"]["results"]]
        event = await ws.receive_event()
        assert (event["action"], event["data"]["text"]) == ("enter", "just after")


async def test_unwatch_ends_the_watch(world, user):
    """After unwatch no event arrives; an unknown id is a 404."""
    async with communicator(user) as ws:
        watch_id = (await watch(ws, "notes", {"folder": world.public_folder.pk}))[
            "watch"
        ]
        response = await ws.request("notes", "unwatch", payload={"watch": watch_id})
        assert (response["status"], response["data"]) == (200, {"detail": "unwatched"})
        await save(world.public_note, text="unwatched")
        assert await ws.queue_empty(0.3)
        again = await ws.request("notes", "unwatch", payload={"watch": watch_id})
        assert again["status"] == 404


async def test_sockets_with_the_same_query_and_visibility_share_one_evaluation(world):
    """Two anonymous watchers of one query are one live query; closing ends it."""
    payload = {"folder": world.public_folder.pk}
    async with communicator() as one, communicator() as two:
        await watch(one, "notes", payload)
        await watch(two, "notes", payload)
        (query,) = live_queries().values()
        assert len(query.watchers) == 2
        await save(world.public_note, text="shared")
        assert (await one.receive_event())["seq"] == (await two.receive_event())["seq"]
    assert not live_queries()


async def test_watch_obeys_the_views_permissions(world):
    """A watch the view refuses answers as `list` would, and registers nothing."""
    async with communicator() as ws:
        response = await ws.request("notes", "watch", payload={"ordering": "nope"})
        assert response["status"] == 200  # OrderingFilter ignores unknown fields.
        refused = await ws.request("notes", "watch", lookup=1)
        assert refused["status"] == 400


async def test_a_watch_matching_more_than_the_bound_is_refused(world, user, settings):
    """A live query keeps its members in memory: past the bound, 400 naming it."""
    settings.REALTIME_API_MAX_WATCH_MATCHES = 3
    async with communicator(user) as ws:
        every = await ws.request("notes", "watch", payload={})
        narrow = await watch(ws, "notes", {"search": "apple"})
        queries = list(live_queries().values())
    assert every["status"] == 400, every
    assert "REALTIME_API_MAX_WATCH_MATCHES" in every["data"]["detail"]
    assert narrow["watch"]
    assert len(queries) == 1 and 0 < len(queries[0].members) <= 3
