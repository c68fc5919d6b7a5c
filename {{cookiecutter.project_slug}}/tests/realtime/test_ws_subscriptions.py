"""PROTOCOL.md's Subscriptions section, and the subscribe/unsubscribe rows of
its Actions table."""

import pytest

from realtime_api.testing import subscribe, unsubscribe

from .extra_streams import extra_application
from .helpers import communicator, save
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


async def test_subscribe_by_serializer_field(world, user):
    """`{"id": pk}` matches one note, and its changes arrive as events."""
    note = world.public_note
    async with communicator(user) as ws:
        data = (await subscribe(ws, "notes", {"id": note.pk}))["data"]
        assert data == {"detail": "subscribed", "matched": 1}
        await save(note, text="edited")
        event = await ws.receive_event()
        assert (event["stream"], event["action"]) == ("notes", "update")
        assert event["data"]["id"] == note.pk
        assert event["data"]["text"] == "edited"


async def test_id_subscription_hears_only_that_object(world, user):
    """`{"id": c}` receives that note's changes and no other's."""
    first, second = world.notes[:2]
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": first.pk})
        await save(second, text="edited")
        assert await ws.queue_empty()
        await save(first, text="edited")
        assert (await ws.receive_event())["data"]["id"] == first.pk
        assert await ws.queue_empty()


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({"ids": "BOTH"}, {"Apples", "Bananas"}),
        ({"name": "ap"}, {"Apples"}),  # name__istartswith
        ({"name": "APPLES"}, {"Apples"}),
        ({"name": "nothing"}, set()),
        ({"owner": "other"}, {"Bananas"}),  # serializer field, source owner.username
        ({"is_private": False}, {"Apples", "Bananas"}),
        ({"id": ["BOTH"]}, {"Apples", "Bananas"}),  # a list means __in
    ],
)
async def test_subscribe_by_mapping_key_or_field(world, user, payload, names):
    """Mapping keys (`ids` -> pk__in, `name` -> istartswith) and fields both filter."""
    both = [world.public_folder.pk, world.others_folder.pk]
    payload = {k: both if v in ("BOTH", ["BOTH"]) else v for k, v in payload.items()}
    async with communicator(user) as ws:
        data = (await subscribe(ws, "folders", payload))["data"]
        assert data["matched"] == len(names)
        for folder in (world.public_folder, world.private_folder, world.others_folder):
            await save(folder, name=f"{folder.name}!")
        heard = {(await ws.receive_event())["data"]["name"] for _ in names}
        assert heard == {f"{name}!" for name in names}
        assert await ws.queue_empty()


async def test_mapping_key_wins_over_a_serializer_field(world, user):
    """A mapping key shadows the serializer field of the same name."""
    async with communicator(user, application=extra_application) as ws:
        # "name" is a serializer field (exact match), but the mapping says
        # name__iendswith: only the mapping matches "PLES".
        data = (await subscribe(ws, "name-suffix", {"name": "PLES"}))["data"]
        assert data["matched"] == 1


@pytest.mark.parametrize("payload", [{"nope": 1}, {"id": 1, "nope": 1}])
async def test_unknown_key_is_a_400_naming_it(world, user, payload):
    """A key that is neither a field nor a mapping key is a 400 that names it."""
    async with communicator(user) as ws:
        response = await ws.request("folders", "subscribe", payload=payload)
        assert response["status"] == 400
        assert "'nope'" in response["data"]["detail"]
        assert "ids" in response["data"]["detail"]  # and says what is known
        assert (await ws.request("folders", "list"))["status"] == 200


@pytest.mark.parametrize("action", ["subscribe", "unsubscribe"])
async def test_empty_filter_is_a_400(world, user, action):
    """A subscription needs a filter: an empty payload is a 400."""
    async with communicator(user) as ws:
        for frame in ({}, {"payload": {}}):
            response = await ws.request("folders", action, **frame)
            assert response["status"] == 400
            assert "needs a filter" in response["data"]["detail"]


async def test_invalid_value_is_a_400(world, user):
    """A value the lookup cannot take is a 400, not a 500."""
    async with communicator(user) as ws:
        response = await ws.request("folders", "subscribe", payload={"id": "abc"})
        assert response["status"] == 400
        assert "Invalid subscription filter" in response["data"]["detail"]


async def test_unsubscribe_stops_events(world, user):
    """After `unsubscribe` with the same filter, no event arrives."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        data = (await unsubscribe(ws, "notes", {"id": note.pk}))["data"]
        assert data == {"detail": "unsubscribed"}
        await save(note, text="edited")
        assert await ws.queue_empty()


async def test_unsubscribe_keeps_other_subscriptions(world, user):
    """Leaving one of two overlapping subscriptions keeps the other's events."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        await subscribe(ws, "notes", {"folder": world.public_folder.pk})
        await unsubscribe(ws, "notes", {"id": note.pk})
        await save(note, text="edited")
        assert (await ws.receive_event())["data"]["id"] == note.pk
        assert await ws.queue_empty()


async def test_folder_subscription_hears_later_notes(world, user, other):
    """`{"folder": t}` on notes also receives notes created later in t."""
    folder = world.public_folder
    async with communicator(user) as ws:
        data = (await subscribe(ws, "notes", {"folder": folder.pk}))["data"]
        assert data["matched"] == len(world.notes)
        created = await Note.objects.acreate(folder=folder, author=other, text="new")
        await Note.objects.acreate(folder=world.others_folder, author=other, text="x")
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", created.pk)
        assert await ws.queue_empty()


async def test_a_list_of_folders_hears_later_notes_of_each(world, user):
    """`{"folder": [a, b]}` joins both folders' groups (the fuzz test found a 500)."""
    folders = [world.public_folder, world.others_folder]
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": [f.pk for f in folders]})
        for folder in folders:
            await Note.objects.acreate(folder=folder, author=user, text="later")
            event = await ws.receive_event()
            assert (event["action"], event["data"]["folder"]) == ("create", folder.pk)
        response = await ws.request("notes", "subscribe", payload={"folder": []})
        assert response["status"] == 200 and response["data"]["matched"] == 0


async def test_no_events_for_objects_outside_the_queryset(world, user, other):
    """Another user's private folder matches 0 and its notes send nothing.

    A filter on a folder the user may not see is refused exactly like one on a
    folder that does not exist, as `?folder=` is over HTTP.
    """
    private = world.private_folder
    async with communicator(other) as ws:
        hidden = await ws.request("notes", "subscribe", payload={"folder": private.pk})
        missing = await ws.request("notes", "subscribe", payload={"folder": 10**9})
        assert hidden["status"] == missing["status"] == 400
        assert hidden["data"] == {
            "detail": missing["data"]["detail"].replace(str(10**9), str(private.pk))
        }
        by_id = (await subscribe(ws, "notes", {"id": world.private_note.pk}))["data"]
        folder = (await subscribe(ws, "folders", {"ids": [private.pk]}))["data"]
        assert by_id["matched"] == folder["matched"] == 0
        await Note.objects.acreate(folder=private, author=user, text="secret")
        await save(world.private_note, text="edited")
        await save(private, name="Renamed")
        assert await ws.queue_empty()


async def test_anonymous_never_hears_of_private_objects(world):
    """An anonymous subscriber matches public objects only."""
    async with communicator(None) as ws:
        both = {"ids": [world.public_folder.pk, world.private_folder.pk]}
        data = (await subscribe(ws, "folders", both))["data"]
        assert data["matched"] == 1
        await save(world.private_folder, name="Renamed")
        assert await ws.queue_empty()
        await save(world.public_folder, name="Renamed")
        assert (await ws.receive_event())["data"]["id"] == world.public_folder.pk


async def test_staff_matches_private_objects(world, admin):
    """Staff see every folder, so they may subscribe to private ones."""
    async with communicator(admin) as ws:
        data = (await subscribe(ws, "notes", {"folder": world.private_folder.pk}))[
            "data"
        ]
        assert data["matched"] == 1
        await save(world.private_note, text="edited")
        assert (await ws.receive_event())["data"]["id"] == world.private_note.pk


async def test_matched_counts_the_objects_now(world, user):
    """`matched` is how many objects the filter matches for this user now."""
    async with communicator(user) as ws:
        data = (await subscribe(ws, "folders", {"is_private": True}))["data"]
        assert data["matched"] == await Folder.objects.filter(is_private=True).acount()
        data = (await subscribe(ws, "notes", {"text": "plum"}))["data"]
        assert data["matched"] == 1


async def test_subscribing_twice_sends_each_event_once(world, user):
    """The same subscription made twice is one subscription."""
    note = world.public_note
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"id": note.pk})
        await subscribe(ws, "notes", {"id": note.pk})
        await save(note, text="edited")
        await ws.receive_event()
        assert await ws.queue_empty()
        # And one unsubscribe ends it.
        await unsubscribe(ws, "notes", {"id": note.pk})
        await save(note, text="again")
        assert await ws.queue_empty()


async def test_a_filter_that_can_hear_nothing_says_so_and_points_to_watch(world, user):
    """A subscription that joined no group answers `matched: 0` with a warning,
    and hears nothing of a later match; a watch of the same filter does."""
    async with communicator(user) as ws:
        data = (await subscribe(ws, "folders", {"name": "dune"}))["data"]
        assert (data["detail"], data["matched"]) == ("subscribed", 0)
        assert "use `watch`" in data["warning"]
        live = await ws.request("folders", "watch", payload={"search": "dune"})
        assert live["status"] == 200
        folder = await Folder.objects.acreate(name="Dune", owner=user)
        event = await ws.receive_event()
        assert (event["action"], event["data"]["id"]) == ("enter", folder.pk)
        assert event["watch"] == live["watch"]
        assert await ws.queue_empty()


async def test_a_group_subscription_that_matches_nothing_yet_has_no_warning(
    world, user
):
    """`{"folder": 3}` with no note yet joins the folder's group: no warning."""
    folder = await Folder.objects.acreate(name="Empty", owner=user)
    async with communicator(user) as ws:
        data = (await subscribe(ws, "notes", {"folder": folder.pk}))["data"]
        assert data == {"detail": "subscribed", "matched": 0}
        note = await Note.objects.acreate(folder=folder, author=user, text="first")
        assert (await ws.receive_event())["data"]["id"] == note.pk
