"""PROTOCOL.md's Endpoint, request frame and response frame sections."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application

from .helpers import communicator, raw_response

pytestmark = pytest.mark.django_db(transaction=True)


async def send_frames(ws, *frames):
    """Send frames back to back, then return as many frames received."""
    for frame in frames:
        await ws.send_to(
            text_data=frame if isinstance(frame, str) else json.dumps(frame)
        )
    return [json.loads(await ws.receive_from()) for _ in frames]


# Endpoint ----------------------------------------------------------------------


async def test_one_socket_serves_every_stream(world, user):
    """/ws/ serves every registered stream."""
    async with communicator(user) as ws:
        for stream in ("folders", "notes"):
            assert (await ws.request(stream, "list"))["status"] == 200


async def test_bound_socket_defaults_the_stream(world, user):
    """On /ws/notes/ a frame may leave out `stream`."""
    pk = world.public_note.pk
    async with communicator(user, "/ws/notes/") as ws:
        bound = await raw_response(
            ws, json.dumps({"action": "retrieve", "lookup": pk, "request_id": 1})
        )
        explicit = await ws.request("notes", "retrieve", pk, request_id=1)
    assert bound == explicit
    assert bound["stream"] == "notes" and bound["status"] == 200


async def test_bound_socket_refuses_other_streams(world, user):
    """A socket bound to one stream answers 404 for another."""
    async with communicator(user, "/ws/notes/") as ws:
        response = await ws.request("folders", "list")
        assert response["status"] == 404
        assert "serves 'notes' only" in response["data"]["detail"]
        assert (await ws.request("notes", "list"))["status"] == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/ws/nope/", [(b"host", b"testserver"), (b"origin", b"http://testserver")]),
        ("/ws/", []),
        ("/ws/", [(b"origin", b"http://evil.example")]),
        ("/ws/notes/", [(b"origin", b"http://evil.example")]),
    ],
    ids=["unknown bound stream", "no origin", "foreign origin", "foreign, bound"],
)
async def test_handshake_refused(path, headers):
    """The handshake is refused for an unknown stream, no Origin, a foreign Origin."""
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()


async def test_binary_frame_is_a_400(user):
    """Text frames carry JSON; a binary frame gets a 400 (and the socket stays)."""
    async with communicator(user) as ws:
        response = await raw_response(ws, bytes_data=b'{"stream": "folders/list/"}')
        assert response["status"] == 400
        assert "Binary frames" in response["data"]["detail"]
        assert (await ws.request("folders", "list"))["status"] == 200


# Request frame -----------------------------------------------------------------

STRUCTURED_FORMS = [
    ("notes/list/", {"stream": "notes", "action": "list"}),
    ("notes/options/", {"stream": "notes", "action": "options"}),
    (
        "notes/retrieve/PK/",
        {"stream": "notes", "action": "retrieve", "lookup": "PK"},
    ),
    ("notes/update/PK/", {"stream": "notes", "action": "update", "lookup": "PK"}),
    (
        "notes/retrieve/999/",
        {"stream": "notes", "action": "retrieve", "lookup": 999},
    ),
]


@pytest.mark.parametrize(("path", "structured"), STRUCTURED_FORMS)
async def test_path_and_structured_forms_are_equivalent(world, user, path, structured):
    """The path form and the structured form of a frame get the same answer."""
    pk = world.public_note.pk
    path = path.replace("PK", str(pk))
    structured = {k: pk if v == "PK" else v for k, v in structured.items()}
    payload = {"text": "edited"} if "update" in path else {}
    async with communicator(user) as ws:
        by_path, by_structure = await send_frames(
            ws,
            {"stream": path, "payload": payload, "request_id": 1},
            {**structured, "payload": payload, "request_id": 1},
        )
    by_path["data"].pop("updated", None)
    by_structure["data"].pop("updated", None)
    assert by_path == by_structure
    assert by_path["status"] in (200, 404)


@pytest.mark.parametrize("path", ["notes/retrieve/{pk}", "notes/list"])
async def test_trailing_slash_is_optional(world, user, path):
    """ "notes/list" and "notes/list/" are the same request."""
    path = path.format(pk=world.public_note.pk)
    async with communicator(user) as ws:
        without, with_slash = await send_frames(
            ws, {"stream": path}, {"stream": f"{path}/"}
        )
    assert without == with_slash
    assert without["status"] == 200


@pytest.mark.parametrize("request_id", ["r-17", 17, 0, "", "ü 🎉"])
async def test_request_id_is_echoed(user, request_id):
    """A string or integer request_id comes back unchanged."""
    async with communicator(user) as ws:
        (response,) = await send_frames(
            ws, {"stream": "folders/list/", "request_id": request_id}
        )
    assert response["request_id"] == request_id
    assert type(response["request_id"]) is type(request_id)


async def test_request_id_is_null_when_absent(user):
    """A request without request_id gets `"request_id": null`."""
    async with communicator(user) as ws:
        (response,) = await send_frames(ws, {"stream": "folders/list/"})
    assert "request_id" in response and response["request_id"] is None


@pytest.mark.parametrize("request_id", [1.5, True, [1], {"a": 1}])
async def test_request_id_of_another_type_is_a_400(user, request_id):
    """request_id must be a string or an integer."""
    async with communicator(user) as ws:
        (response,) = await send_frames(
            ws, {"stream": "folders/list/", "request_id": request_id}
        )
        assert response["status"] == 400
        assert "request_id" in response["data"]["detail"]
        assert (await ws.request("folders", "list"))["status"] == 200


async def test_payload_defaults_to_an_empty_object(world, user):
    """A frame without `payload` (or with null) is a frame with `{}`."""
    async with communicator(user) as ws:
        frames = await send_frames(
            ws,
            {"stream": "folders/list/"},
            {"stream": "folders/list/", "payload": None},
            {"stream": "folders/list/", "payload": {}},
        )
    assert frames[0] == frames[1] == frames[2]
    assert frames[0]["status"] == 200


async def test_unknown_top_level_keys_are_ignored(world, user):
    """Keys the protocol does not define change nothing."""
    async with communicator(user) as ws:
        plain, extra = await send_frames(
            ws,
            {"stream": "folders/list/", "request_id": 1},
            {
                "stream": "folders/list/",
                "request_id": 1,
                "foo": 1,
                "type": "x",
                "v": [2],
            },
        )
    assert plain == extra and plain["status"] == 200


# Response frame ----------------------------------------------------------------


async def test_response_frame_shape(world, user):
    """A response frame has type, stream, action, request_id, status and data."""
    async with communicator(user) as ws:
        (response,) = await send_frames(
            ws, {"stream": "folders/list/", "request_id": "r-1"}
        )
    assert list(response) == [
        "type",
        "stream",
        "action",
        "request_id",
        "status",
        "data",
    ]
    assert response["type"] == "response"
    assert (response["stream"], response["action"]) == ("folders", "list")


@pytest.mark.parametrize(
    ("frame", "has_lookup"),
    [
        ({"stream": "notes/retrieve/PK/"}, True),
        ({"stream": "notes", "action": "retrieve", "lookup": "PK"}, True),
        ({"stream": "notes/retrieve/999/"}, True),
        ({"stream": "notes/list/"}, False),
        ({"stream": "notes", "action": "list"}, False),
        ({"stream": "notes", "action": "list", "lookup": None}, False),
        ({"stream": "notes/retrieve/"}, False),
    ],
)
async def test_lookup_only_when_the_request_had_one(world, user, frame, has_lookup):
    """`lookup` is in the response only when the request had one (as a string)."""
    pk = world.public_note.pk
    frame = json.loads(
        json.dumps(frame).replace('"PK"', str(pk)).replace("PK", str(pk))
    )
    async with communicator(user) as ws:
        (response,) = await send_frames(ws, frame)
    assert ("lookup" in response) == has_lookup
    if has_lookup:
        assert isinstance(response["lookup"], str)


async def test_responses_come_in_order(world, user):
    """Frames sent back to back are answered once each, in order."""
    pk = world.public_note.pk
    frames = [
        {
            "stream": "notes/create/",
            "payload": {"folder": world.public_folder.pk, "text": "a"},
        },
        "not json",
        {"stream": f"notes/retrieve/{pk}/"},
        {"stream": "nope/list/"},
        {"stream": "notes/list/", "payload": {"page_size": 1}},
        {"stream": f"notes/update/{pk}/", "payload": {"text": "b"}},
        {"stream": "notes/options/"},
        {"stream": "notes/subscribe/", "payload": {"id": pk}},
        {"stream": f"notes/delete/{pk}/"},
    ]
    frames = [
        f if isinstance(f, str) else {**f, "request_id": i}
        for i, f in enumerate(frames)
    ]
    async with communicator(user) as ws:
        responses = await send_frames(ws, *frames)
        # The subscribed socket also gets the delete event, after its response.
        event = json.loads(await ws.receive_from())
        assert await ws.queue_empty()
    assert [r["request_id"] for r in responses] == [0, None, 2, 3, 4, 5, 6, 7, 8]
    assert [r["status"] for r in responses] == [
        201,
        400,
        200,
        404,
        200,
        200,
        200,
        200,
        204,
    ]
    assert event["type"] == "event" and event["action"] == "delete"
