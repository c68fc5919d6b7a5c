"""Every row of PROTOCOL.md's Actions table: the body over the socket is the
body of the same request over HTTP (DRF's APIClient, same user, same input).

`subscribe` and `unsubscribe` have no HTTP twin: see test_ws_subscriptions.py.
"""

import pytest

from .helpers import communicator, http_twin, without_volatile
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)

# Query parameters of `list`; "TOPIC" stands for the public folder's pk.
LIST_QUERIES = {
    "no parameters": {},
    "filter": {"folder": "TOPIC"},
    "search": {"search": "apple"},
    "ordering": {"ordering": "-created"},
    "second page": {"page": 2, "page_size": 2},
    "all together": {
        "folder": "TOPIC",
        "search": "a",
        "ordering": "-id",
        "page_size": 1,
    },
    "page out of range": {"page": 9},
    "invalid filter": {"folder": "not-a-pk"},
}


@pytest.mark.parametrize("query", LIST_QUERIES.values(), ids=LIST_QUERIES.keys())
@pytest.mark.parametrize("actor", ["anonymous", "owner"], indirect=True)
async def test_list_is_the_http_list(world, actor, query):
    """`list` returns the HTTP list body: paginated shape, results, count, links."""
    payload = {
        k: world.public_folder.pk if v == "TOPIC" else v for k, v in query.items()
    }
    async with communicator(actor) as ws:
        response = await ws.request("notes", "list", payload=payload)
    assert (response["status"], response["data"]) == await http_twin(
        actor, "notes", "list", payload=payload
    )


async def test_list_is_paginated(world, user):
    """`list` of a paginating view has DRF's paginated shape."""
    async with communicator(user) as ws:
        response = await ws.request("notes", "list", payload={"page_size": 2})
    data = response["data"]
    assert response["status"] == 200
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 7 and len(data["results"]) == 2
    assert data["next"] == "http://testserver/api/notes/?page=2&page_size=2"


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_retrieve_is_the_http_get_detail(world, user, stream):
    """`retrieve` returns the body of HTTP GET detail."""
    pk = world.public_folder.pk if stream == "folders" else world.public_note.pk
    async with communicator(user) as ws:
        response = await ws.request(stream, "retrieve", pk)
    assert response["status"] == 200
    assert (200, response["data"]) == await http_twin(user, stream, "retrieve", pk)


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_create_is_the_http_post(world, user, stream):
    """`create` answers 201 and the HTTP POST body; both requests create a row."""
    payload = (
        {"name": "Pears", "is_private": True}
        if stream == "folders"
        else {"folder": world.public_folder.pk, "text": "pear"}
    )
    model = Folder if stream == "folders" else Note
    before = await model.objects.acount()
    async with communicator(user) as ws:
        response = await ws.request(stream, "create", payload=payload)
    status, body = await http_twin(user, stream, "create", payload=payload)
    assert response["status"] == status == 201
    assert without_volatile(response["data"]) == without_volatile(body)
    assert response["data"]["id"] != body["id"]
    assert await model.objects.acount() == before + 2
    stored = await http_twin(user, stream, "retrieve", response["data"]["id"])
    assert stored == (200, response["data"])


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_update_is_the_http_patch(world, user, stream):
    """`update` is a partial update answering the HTTP PATCH body."""
    if stream == "folders":
        pk, payload = world.public_folder.pk, {"name": "Green apples"}
    else:
        pk, payload = world.public_note.pk, {"text": "apple crumble"}
    http = await http_twin(user, stream, "update", pk, payload, dry_run=True)
    async with communicator(user) as ws:
        response = await ws.request(stream, "update", pk, payload)
    assert response["status"] == http[0] == 200
    assert without_volatile(response["data"]) == without_volatile(http[1])
    assert response["data"]["id"] == pk
    assert await http_twin(user, stream, "retrieve", pk) == (200, response["data"])


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_delete_is_the_http_delete(world, user, stream):
    """`delete` answers 204 with `data` null, and deletes the row."""
    pk = world.public_folder.pk if stream == "folders" else world.public_note.pk
    model = Folder if stream == "folders" else Note
    assert await http_twin(user, stream, "delete", pk, dry_run=True) == (204, None)
    async with communicator(user) as ws:
        response = await ws.request(stream, "delete", pk, {})
    assert (response["status"], response["data"]) == (204, None)
    assert not await model.objects.filter(pk=pk).aexists()


@pytest.mark.parametrize(
    ("stream", "name"), [("notes", "Note List"), ("folders", "Folder List")]
)
@pytest.mark.parametrize("actor", ["anonymous", "owner"], indirect=True)
async def test_options_is_the_http_metadata(world, actor, stream, name):
    """`options` returns the view's metadata, as HTTP OPTIONS does."""
    async with communicator(actor) as ws:
        response = await ws.request(stream, "options")
    assert (response["status"], response["data"]) == await http_twin(
        actor, stream, "options"
    )
    assert response["data"]["name"] == name
    # Anonymous users may not POST, so DRF describes no fields for them.
    assert ("actions" in response["data"]) == (actor is not None)


@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_replace_is_the_http_put(world, user, stream):
    """`replace` is a full update answering the HTTP PUT body."""
    if stream == "folders":
        pk = world.public_folder.pk
        payload = {"name": "Pears", "is_private": False}
    else:
        pk = world.public_note.pk
        payload = {"folder": world.public_folder.pk, "text": "pear tart"}
    http = await http_twin(user, stream, "replace", pk, payload, dry_run=True)
    async with communicator(user) as ws:
        response = await ws.request(stream, "replace", pk, payload)
    assert response["status"] == http[0] == 200
    assert without_volatile(response["data"]) == without_volatile(http[1])
    assert await http_twin(user, stream, "retrieve", pk) == (200, response["data"])


@pytest.mark.parametrize(
    ("role", "payload", "status"),
    [
        ("owner", {"text": "no folder"}, 400),  # PUT needs every field
        ("other", {"folder": "PUBLIC", "text": "x"}, 403),
        ("anonymous", {"folder": "PUBLIC", "text": "x"}, 403),
    ],
)
async def test_replace_is_refused_as_the_http_put_is(
    world, users, role, payload, status
):
    """A partial body is a 400 (unlike `update`); others' objects 403."""
    payload = {
        k: world.public_folder.pk if v == "PUBLIC" else v for k, v in payload.items()
    }
    actor, pk = users[role], world.public_note.pk
    async with communicator(actor) as ws:
        response = await ws.request("notes", "replace", pk, payload)
    http = await http_twin(actor, "notes", "replace", pk, payload)
    assert (response["status"], response["data"]) == http
    assert response["status"] == status
    assert (await Note.objects.aget(pk=pk)).text == "apple pie"
