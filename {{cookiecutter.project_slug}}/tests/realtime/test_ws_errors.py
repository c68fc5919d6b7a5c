"""PROTOCOL.md's Errors table: one test or more per row.

After every error the socket stays open and nothing is written: each test
ends with `assert_refused_cleanly()`.
"""

import json
import logging

import pytest

from .extra_streams import extra_application
from .helpers import assert_still_open, communicator, http_twin, raw_response, snapshot
from .testapp.models import NOTE_TEXT_MAX_LENGTH
from .testapp.views import IsOwnerOrReadOnly

pytestmark = pytest.mark.django_db(transaction=True)

MAX_FRAME = 64 * 1024
MISSING = 999_999


async def assert_refused_cleanly(ws, rows_before):
    """The socket still answers, and no row was written."""
    await assert_still_open(ws)
    assert await snapshot() == rows_before


# 400: not JSON, not an object, binary frame, payload not an object -----------

BAD_FRAMES = {
    "not JSON": (
        '{"stream": "folders/create/", "payload": {"name": "x"',
        "not valid JSON",
    ),
    "not an object": ('[{"stream": "folders/create/"}]', "must be a JSON object"),
    "a JSON string": ('"folders/create/"', "must be a JSON object"),
    "payload a list": (
        '{"stream": "folders/create/", "payload": [{"name": "x"}]}',
        "payload must be a JSON object",
    ),
    "payload a string": ('{"stream": "folders/create/", "payload": "x"}', "payload"),
    "no stream": ('{"payload": {"name": "x"}}', 'no "stream"'),
    "stream not a string": ('{"stream": 5}', "stream must be a string"),
    "empty stream": ('{"stream": ""}', "Malformed stream"),
    "too many parts": ('{"stream": "folders/retrieve/1/2/"}', "Malformed stream"),
    "empty part": ('{"stream": "folders//1/"}', "Malformed stream"),
    "leading slash": ('{"stream": "/folders/list/"}', "Malformed stream"),
    "no action": ('{"stream": "folders"}', "no action"),
    "action not a string": ('{"stream": "folders", "action": 1}', "action must be"),
    "lookup an object": (
        '{"stream": "folders", "action": "retrieve", "lookup": {"id": 1}}',
        "lookup must be",
    ),
}


@pytest.mark.parametrize(("text", "says"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
async def test_malformed_frame_is_a_400(world, user, text, says):
    """A frame the protocol cannot read is a 400 whose detail says why."""
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await raw_response(ws, text)
        assert response["type"] == "response"
        assert response["status"] == 400
        assert says in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


async def test_binary_frame_is_a_400(world, user):
    """A binary frame is a 400, even when it holds valid JSON."""
    rows = await snapshot()
    async with communicator(user) as ws:
        frame = json.dumps({"stream": "folders/create/", "payload": {"name": "x"}})
        response = await raw_response(ws, bytes_data=frame.encode())
        assert response["status"] == 400 and "Binary" in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


async def test_error_echoes_what_was_understood(user):
    """An error response still echoes the request_id, stream and action it read."""
    async with communicator(user) as ws:
        response = await raw_response(
            ws, '{"stream": "folders/create/", "payload": 3, "request_id": "r-9"}'
        )
    assert response["request_id"] == "r-9"
    assert (response["stream"], response["action"]) == ("folders", "create")


# 413: frame larger than the configured maximum -------------------------------


def padded_frame(size, char="x"):
    """A valid `folders/list` frame of exactly `size` bytes of UTF-8."""
    head = '{"stream": "folders/list/", "request_id": "big", "pad": "'
    filler = size - len(head.encode()) - 2
    chars = filler // len(char.encode())
    return head + char * chars + "x" * (filler - chars * len(char.encode())) + '"}'


@pytest.mark.parametrize(
    ("size", "char", "status"),
    [
        (MAX_FRAME, "x", 200),
        (MAX_FRAME + 1, "x", 413),
        (MAX_FRAME - 2, "é", 200),
        (MAX_FRAME + 2, "é", 413),  # fewer characters than bytes: bytes count
        (10 * MAX_FRAME, "x", 413),
    ],
)
async def test_frame_size_limit(world, user, size, char, status):
    """A frame over 64 KiB (UTF-8 bytes) is a 413; one up to the limit is processed."""
    text = padded_frame(size, char)
    assert len(text.encode()) == size
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await raw_response(ws, text)
        assert response["status"] == status
        if status == 413:
            assert str(MAX_FRAME) in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


async def test_large_create_is_a_413_and_writes_nothing(world, user):
    """A create frame over the limit is refused before it is parsed."""
    rows = await snapshot()
    async with communicator(user) as ws:
        payload = {"folder": world.public_folder.pk, "text": "x" * MAX_FRAME}
        frame = {"stream": "notes/create/", "payload": payload, "request_id": 1}
        response = await raw_response(ws, json.dumps(frame))
        assert response["status"] == 413
        # The frame was not parsed, so its request_id is unknown.
        assert response["request_id"] is None
        await assert_refused_cleanly(ws, rows)


async def test_frame_size_limit_is_a_setting(world, user, settings):
    """REALTIME_API_MAX_FRAME_BYTES sets the limit."""
    settings.REALTIME_API_MAX_FRAME_BYTES = 1000
    async with communicator(user) as ws:
        assert (await raw_response(ws, padded_frame(1000)))["status"] == 200
        assert (await raw_response(ws, padded_frame(1001)))["status"] == 413


# 404: unknown stream; 405: unknown action, or action not allowed -------------


@pytest.mark.parametrize(
    ("stream", "action", "status", "says"),
    [
        ("nope", "list", 404, "Unknown stream 'nope'. Streams: folders, notes, s"),
        ("Folders", "list", 404, "Unknown stream 'Folders'"),
        ("folders", "watchit", 405, "Unknown action 'watchit'"),
        ("folders", "partial_update", 405, "Unknown action 'partial_update'"),
        ("folders", "LIST", 405, "Unknown action 'LIST'"),
    ],
)
async def test_unknown_stream_or_action(world, user, stream, action, status, says):
    """An unknown stream is a 404, an unknown action a 405, naming them."""
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await ws.request(stream, action, payload={"name": "x"})
        assert response["status"] == status
        assert says in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


@pytest.mark.parametrize(
    ("stream", "action", "lookup", "allowed"),
    [
        ("list-only", "list", None, True),
        ("list-only", "retrieve", "PK", True),
        ("list-only", "create", None, False),
        ("list-only", "update", "PK", False),
        ("list-only", "delete", "PK", False),
        ("list-only", "options", None, False),
        ("list-only", "subscribe", None, False),
        ("read-only", "list", None, True),
        ("read-only", "retrieve", "PK", True),
        ("read-only", "options", None, True),
        ("read-only", "subscribe", None, True),
        ("read-only", "create", None, False),
        ("read-only", "update", "PK", False),
        ("read-only", "delete", "PK", False),
    ],
)
async def test_action_not_allowed_is_a_405(
    world, user, stream, action, lookup, allowed
):
    """`allowed_actions`, or a view without the HTTP twin, makes an action a 405."""
    pk = world.public_folder.pk
    rows = await snapshot()
    payload = {"id": pk} if action == "subscribe" else {"name": "x"}
    async with communicator(user, application=extra_application) as ws:
        response = await ws.request(stream, action, pk if lookup else None, payload)
        if allowed:
            assert response["status"] == 200, response
        else:
            assert response["status"] == 405
            assert response["data"] == {
                "detail": f"Action '{action}' is not allowed on stream '{stream}'."
            }
            assert await snapshot() == rows


# 400 or 404: lookup missing or of the wrong type ------------------------------


@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
async def test_missing_lookup_is_a_400(world, user, action):
    """retrieve, update and delete without a lookup are a 400 that says so."""
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await ws.request("notes", action, payload={"text": "x"})
        assert response["status"] == 400
        assert "needs a lookup" in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


@pytest.mark.parametrize("action", ["list", "create", "options", "subscribe"])
async def test_lookup_where_none_is_taken_is_a_400(world, user, action):
    """An action on the collection with a lookup is a 400, not a silent list."""
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await ws.request(
            "notes", action, world.public_note.pk, {"text": "x"}
        )
        assert response["status"] == 400
        assert "takes no lookup" in response["data"]["detail"]
        await assert_refused_cleanly(ws, rows)


@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
# Python and Django read fullwidth digits as a number ("\uff11" is pk 1, which
# exists in a worker's first test): these name no row.
@pytest.mark.parametrize("lookup", ["abc", "-1", "1e3", "\uff19" * 6])
async def test_lookup_of_the_wrong_type_is_the_http_404(world, user, action, lookup):
    """A lookup that is not a pk answers what HTTP answers for that URL."""
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await ws.request("notes", action, lookup, {"text": "x"})
        http = await http_twin(user, "notes", action, lookup, {"text": "x"})
        assert (response["status"], response["data"]) == http
        assert response["status"] == 404
        await assert_refused_cleanly(ws, rows)


@pytest.mark.parametrize("lookup", ["1.5", "a.b"])
async def test_lookup_no_url_would_match_is_a_404(world, user, lookup):
    """A lookup the router's URL pattern refuses is a 404, as the URL is over HTTP."""
    async with communicator(user) as ws:
        response = await ws.request("notes", "retrieve", lookup)
        assert (response["status"], response["data"]) == (404, {"detail": "Not found."})
        await assert_still_open(ws)


# 404: object not found, or not visible to this user --------------------------


@pytest.mark.parametrize("action", ["retrieve", "update", "delete"])
@pytest.mark.parametrize("stream", ["folders", "notes"])
async def test_not_found_and_not_visible_are_the_same_404(world, other, stream, action):
    """A private object of another user is answered exactly like a missing one."""
    private = world.private_folder if stream == "folders" else world.private_note
    rows = await snapshot()
    payload = {"name": "x", "text": "x"}
    async with communicator(other) as ws:
        hidden = await ws.request(stream, action, private.pk, payload)
        missing = await ws.request(stream, action, MISSING, payload)
        assert hidden["status"] == missing["status"] == 404
        assert hidden["data"] == missing["data"]
        assert (404, missing["data"]) == await http_twin(
            other, stream, action, MISSING, payload
        )
        await assert_refused_cleanly(ws, rows)


# 401 or 403: not authenticated / not permitted --------------------------------


@pytest.mark.parametrize(
    ("stream", "action", "target"),
    [
        ("folders", "create", None),
        ("notes", "create", None),
        ("folders", "update", "public_folder"),
        ("notes", "update", "public_note"),
        ("folders", "delete", "public_folder"),
        ("notes", "delete", "public_note"),
    ],
)
async def test_anonymous_write_is_refused_as_over_http(world, stream, action, target):
    """An anonymous write gets the status and body HTTP gives it (403 here)."""
    lookup = getattr(world, target).pk if target else None
    payload = {"name": "x", "folder": world.public_folder.pk, "text": "x"}
    rows = await snapshot()
    async with communicator(None) as ws:
        response = await ws.request(stream, action, lookup, payload)
        http = await http_twin(None, stream, action, lookup, payload)
        assert (response["status"], response["data"]) == http
        # Session authentication sends no WWW-Authenticate, so DRF says 403.
        assert http == (
            403,
            {"detail": "Authentication credentials were not provided."},
        )
        await assert_refused_cleanly(ws, rows)


@pytest.mark.parametrize("action", ["update", "delete"])
@pytest.mark.parametrize("target", ["public_folder", "public_note", "others_note"])
async def test_change_of_another_users_object_is_a_403(
    world, user, other, action, target
):
    """Changing an object one may see but does not own is the HTTP 403."""
    obj = getattr(world, target)
    actor = user if target == "others_note" else other
    stream = "folders" if target.endswith("folder") else "notes"
    payload = {"name": "x", "text": "x"}
    rows = await snapshot()
    async with communicator(actor) as ws:
        response = await ws.request(stream, action, obj.pk, payload)
        http = await http_twin(actor, stream, action, obj.pk, payload)
        assert (response["status"], response["data"]) == http
        assert http == (403, {"detail": IsOwnerOrReadOnly.message})
        await assert_refused_cleanly(ws, rows)


async def test_subscribe_needs_the_read_permission(world, user):
    """An anonymous subscribe on a members-only view is refused like its GET."""
    async with communicator(None, application=extra_application) as ws:
        response = await ws.request("members-only", "subscribe", payload={"id": 1})
        assert response["status"] == 403
        assert response["data"] == {
            "detail": "Authentication credentials were not provided."
        }
        listing = await ws.request("members-only", "list")
        assert (listing["status"], listing["data"]) == (403, response["data"])
    async with communicator(user, application=extra_application) as ws:
        response = await ws.request(
            "members-only", "subscribe", payload={"id": world.public_folder.pk}
        )
        assert response["data"] == {"detail": "subscribed", "matched": 1}


# 400: validation failed --------------------------------------------------------

INVALID = {
    "text too long": (
        "notes",
        "create",
        {"text": "x" * (NOTE_TEXT_MAX_LENGTH + 1)},
    ),
    "text empty": ("notes", "create", {"text": ""}),
    "text missing": ("notes", "create", {}),
    "text null": ("notes", "create", {"text": None}),
    "folder missing": ("notes", "create", {"folder": None, "text": "x"}),
    "folder not a pk": ("notes", "create", {"folder": "abc", "text": "x"}),
    "folder missing entirely": ("notes", "create", {"text": "x", "folder": MISSING}),
    "name missing": ("folders", "create", {}),
    "name too long": ("folders", "create", {"name": "x" * 201}),
    "is_private not a bool": (
        "folders",
        "create",
        {"name": "x", "is_private": "maybe"},
    ),
    "update text empty": ("notes", "update", {"text": ""}),
    "update name too long": ("folders", "update", {"name": "x" * 201}),
}


@pytest.mark.parametrize(
    ("stream", "action", "payload"), INVALID.values(), ids=INVALID.keys()
)
async def test_validation_errors_are_the_http_field_errors(
    world, user, stream, action, payload
):
    """A payload the serializer refuses gets HTTP's 400 and field errors."""
    if stream == "notes" and action == "create":
        payload = {"folder": world.public_folder.pk, **payload}
    lookup = None
    if action == "update":
        lookup = (world.public_folder if stream == "folders" else world.public_note).pk
    rows = await snapshot()
    async with communicator(user) as ws:
        response = await ws.request(stream, action, lookup, payload)
        http = await http_twin(user, stream, action, lookup, payload)
        assert (response["status"], response["data"]) == http
        assert http[0] == 400 and "detail" not in http[1]
        await assert_refused_cleanly(ws, rows)


# 429: throttled ----------------------------------------------------------------


@pytest.mark.parametrize("actor", ["anonymous", "owner"], indirect=True)
@pytest.mark.parametrize("action", ["list", "subscribe"])
async def test_throttled_is_a_429_with_wait(world, actor, action, clear_cache):
    """Past the view's rate, a request gets 429 with the seconds to `wait`."""
    payload = {"id": world.public_folder.pk} if action == "subscribe" else {}
    async with communicator(actor, application=extra_application) as ws:
        for _ in range(2):
            assert (await ws.request("throttled", action, payload=payload))[
                "status"
            ] == 200
        response = await ws.request("throttled", action, payload=payload)
        assert response["status"] == 429
        assert set(response["data"]) == {"detail", "wait"}
        assert "throttled" in response["data"]["detail"]
        assert isinstance(response["data"]["wait"], int)
        assert 0 < response["data"]["wait"] <= 60
        # Other streams have no throttle: the socket works on.
        assert (await ws.request("list-only", "list"))["status"] == 200


async def test_throttled_create_writes_nothing(world, user, clear_cache):
    """A throttled create is refused before the view writes."""
    async with communicator(user, application=extra_application) as ws:
        for _ in range(2):
            await ws.request("throttled", "list")
        rows = await snapshot()
        response = await ws.request("throttled", "create", payload={"name": "x"})
        assert response["status"] == 429
        assert await snapshot() == rows


# 500: an unexpected server error ----------------------------------------------


async def test_server_error_is_a_bare_500_and_logged(world, user, caplog):
    """An exception in the view is a 500 without details, logged with its traceback."""
    caplog.set_level(logging.ERROR)
    async with communicator(user, application=extra_application) as ws:
        await ws.send_json_to({"stream": "failing/list/", "request_id": "boom"})
        text = await ws.receive_from()
        response = json.loads(text)
        assert response["status"] == 500
        assert response["request_id"] == "boom"
        assert response["data"] == {"detail": "Internal server error."}
        assert "secret detail" not in text and "Traceback" not in text
        assert (await ws.request("failing", "retrieve", world.public_folder.pk))[
            "status"
        ] == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the 500 was not logged"
    assert errors[0].exc_info and "secret detail" in str(errors[0].exc_info[1])
