"""Random frames through the real consumer (hypothesis, seeded).

Random JSON values and shapes, stream paths, actions (the protocol's and
the test app's @actions, with random HTTP methods), lookups and payload
types, huge and deeply nested values, unicode and NUL, binary frames: each
frame gets exactly one answer (its request_id echoed where it could be read),
never a 500 and never a close, a refused frame writes nothing, and a second,
well-behaved socket is served throughout. In process (config.asgi, 480
frames; 2,000 with `pytest --long`, as CI runs it) and against a real
daphne (a tenth as many).

More frames, or another seed: REALTIME_FUZZ_FRAMES=20000 REALTIME_FUZZ_SEED=7.
"""

import asyncio
import json
import os
import threading

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from realtime_api.protocol import ACTIONS
from realtime_api.testing import create_session

from ..sizes import size
from .helpers import communicator
from .testapp.models import Folder, Note
from .testapp.streams import registry as testapp_registry

FRAMES = size("REALTIME_FUZZ_FRAMES", quick=480, full=2000)
SEED = int(os.environ.get("REALTIME_FUZZ_SEED", "0"))

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60 + FRAMES // 20),  # About 5 ms a frame, here.
]
BATCH = 8  # Frames per hypothesis example.

# --- Frames -------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\ud800",
        "\U0001d4b3\u0338",
        "../../etc",
        "%00",
        "' OR 1=1 --",
        " ",
    ]
)
TEXT = st.text(max_size=30) | NASTY_TEXT
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 2**63, 10**30])
)
LEAVES = st.none() | st.booleans() | NUMBERS | TEXT
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
# The test app's streams and every action of their tables, @actions included.
SERVED_STREAMS = testapp_registry.names()
EXTRA_ACTIONS = sorted(
    {
        name
        for adapter in testapp_registry
        for name, action in adapter.actions.items()
        if action.kind == "extra"
    }
)
ALL_ACTIONS = [*ACTIONS, *EXTRA_ACTIONS]
assert "replace" in ALL_ACTIONS and "archive" in ALL_ACTIONS
STREAMS = st.sampled_from([*SERVED_STREAMS, "nope", "", "FOLDERS", "folders "])
ACTION_NAMES = (
    st.sampled_from([*ALL_ACTIONS, "destroy", "partial_update", "", "list/"]) | TEXT
)
METHODS = st.sampled_from(["get", "post", "put", "patch", "delete", "GET", "head"])
LOOKUPS = st.sampled_from(["1", "2", "0", "-1", "abc", "9" * 30, "%2F", "1.5"]) | TEXT
PATHS = (
    st.builds(
        lambda stream, action, lookup: (
            "/".join(p for p in (stream, action, lookup) if p) + "/"
        ),
        STREAMS,
        ACTION_NAMES,
        st.none() | LOOKUPS,
    )
    | TEXT
)
PAYLOADS = (
    st.fixed_dictionaries({}, optional={"name": TEXT, "folder": VALUES, "text": TEXT})
    | st.dictionaries(TEXT, VALUES, max_size=5)
    | VALUES
)
OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "stream": PATHS | STREAMS | VALUES,
        "action": ACTION_NAMES | VALUES,
        "lookup": LOOKUPS | VALUES,
        "payload": PAYLOADS,
        "since": VALUES,
        "method": METHODS | VALUES,
    },
)


# Requests a view may carry out: real streams and actions, random payloads.
REQUESTS = st.builds(
    lambda stream, action, lookup, payload, method: {
        "stream": f"{stream}/{action}/" + (f"{lookup}/" if lookup else ""),
        "payload": payload,
        **({"method": method} if method else {}),
    },
    st.sampled_from(SERVED_STREAMS),
    st.sampled_from(ALL_ACTIONS),
    st.none() | st.sampled_from(["1", "2", "3", "4", "5"]),
    st.fixed_dictionaries(
        {},
        optional={
            "name": TEXT,
            "text": TEXT,
            "folder": st.integers(0, 5) | VALUES,
            "is_private": st.booleans() | VALUES,
            "search": TEXT,
            "ordering": st.sampled_from(["id", "-name", "created", "nope"]),
            "page": VALUES,
            "watch": TEXT,
            "word": TEXT,
        },
    ),
    st.none() | METHODS,
)


def nested(depth, opening="[", closing="]"):
    return opening * depth + closing * depth


# (kind, content): "object" frames get a request_id of the test's to echo.
FRAME = st.one_of(
    st.tuples(st.just("object"), REQUESTS, st.booleans()),
    st.tuples(st.just("object"), REQUESTS, st.booleans()),
    st.tuples(st.just("object"), OBJECTS, st.booleans()),
    st.tuples(st.just("object"), OBJECTS.map(lambda o: {**o, "request_id": 5})),
    st.tuples(st.just("text"), VALUES.map(json.dumps)),
    st.tuples(st.just("text"), TEXT),
    st.tuples(
        st.just("text"),
        st.integers(1, 100_000).map(
            lambda depth: (
                '{"stream": "folders/list/", "payload": '
                + nested(depth, '{"a": ', "}").replace("}", "1}", 1)
                + "}"
            )
        ),
    ),
    st.tuples(st.just("text"), st.integers(1, 100_000).map(nested)),
    st.tuples(st.just("text"), st.integers(60_000, 70_000).map(lambda n: "x" * n)),
    st.tuples(
        st.just("text"),
        st.integers(30_000, 70_000).map(
            lambda n: json.dumps(
                {"stream": "folders/create/", "payload": {"name": "é" * n}}
            )
        ),
    ),
    st.tuples(st.just("binary"), st.binary(max_size=64)),
)


def render(kind, content, ascii_only=True, index=0):
    """Return (text, bytes, the request_id the answer must echo or None)."""
    if kind == "binary":
        return None, content, None
    if kind == "text":
        return content, None, None
    request_id = content.get("request_id", f"fz-{index}")
    text = json.dumps({**content, "request_id": request_id}, ensure_ascii=ascii_only)
    return text, None, request_id


# --- The sockets -------------------------------------------------------------------


class LoopThread:
    """An event loop in a thread: the sockets live across hypothesis examples."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout=60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def rows():
    return [
        *Folder.objects.order_by("pk").values_list(),
        *Note.objects.order_by("pk").values_list(),
    ]


def check_answer(sent, answer):
    """One frame's answer: a response, never a 500, its request_id echoed."""
    _, _, request_id = sent
    assert answer["type"] == "response", answer
    assert 200 <= answer["status"] < 600 and answer["status"] != 500, answer
    if request_id is not None:
        assert answer["request_id"] == request_id, answer


def fuzz(loop, fuzzer, bystander, frames, receive_answer, send):
    """Send `frames` one at a time; check each answer and what it wrote."""
    statuses = []

    @seed(SEED)
    @settings(
        max_examples=max(1, frames // BATCH),
        database=None,
        deadline=None,
        # A failing batch is shown as it was: shrinking it takes minutes.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(FRAME, min_size=BATCH, max_size=BATCH))
    def one_batch(batch):
        for index, (kind, content, *ascii_only) in enumerate(batch):
            sent = render(kind, content, *ascii_only, index=index)
            before = rows()
            answer = loop.run(send_and_receive(fuzzer, sent, send, receive_answer))
            check_answer(sent, answer)
            statuses.append(answer["status"])
            if answer["status"] >= 400:
                assert rows() == before, f"a refused frame wrote: {answer}"
        reply = loop.run(bystander.request("folders", "list"))
        assert reply["status"] == 200, reply

    one_batch()
    assert len(statuses) >= frames
    # Not only refusals: some frames were requests the views carried out.
    assert any(status < 300 for status in statuses), set(statuses)
    return statuses


async def send_and_receive(ws, sent, send, receive_answer):
    text, data, _ = sent
    await send(ws, text, data)
    return await receive_answer(ws)


# --- In process -------------------------------------------------------------------


async def send_in_process(ws, text, data):
    # As the server hands it over (send_to() refuses an empty frame).
    message = {"type": "websocket.receive", "text": text, "bytes": data}
    await ws.send_input({k: v for k, v in message.items() if v is not None})


async def answer_in_process(ws):
    while True:
        message = await ws.receive_output(10)
        assert message["type"] == "websocket.send", f"closed: {message}"
        frame = json.loads(message["text"])
        if frame.get("type") != "event":
            return frame


def test_random_frames_in_process(user, world, settings):
    """2,000 random frames through config.asgi: one answer each, never a 500."""
    # Fuzz the frames, not the rates: a fast machine outruns the user's share
    # and, refused without pause, is closed 4008 (test_ws_budgets.py).
    settings.REALTIME_API_FRAME_RATE = None
    settings.REALTIME_API_USER_FRAME_RATE = None
    loop = LoopThread()

    async def open_socket(as_user):
        return await communicator(as_user).__aenter__()  # On the loop's thread.

    try:
        fuzzer = loop.run(open_socket(user))
        bystander = loop.run(open_socket(None))
        fuzz(loop, fuzzer, bystander, FRAMES, answer_in_process, send_in_process)
        loop.run(fuzzer.disconnect())
        loop.run(bystander.disconnect())
    finally:
        loop.stop()


# --- A real daphne -------------------------------------------------------------


def test_random_frames_on_daphne(user, world, testapp_server_unlimited):
    """A tenth as many over real sockets: UTF-8 on the wire, daphne's parsing."""
    from realtime_api.testing.live_server import LiveClient

    server = testapp_server_unlimited
    key = create_session(user)
    loop = LoopThread()

    async def send(client, text, data):
        if text is None:
            await client.connection.send(data)
            return
        # A real client cannot send a lone surrogate: UTF-8 has none.
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        await client.connection.send(text)

    async def answer(client):
        while True:
            frame = json.loads(await client.receive_text(10))
            if frame.get("type") != "event":
                return frame

    try:
        fuzzer = loop.run(LiveClient.connect(server.url, key))
        bystander = loop.run(LiveClient.connect(server.url))

        fuzz(loop, fuzzer, bystander, max(BATCH, FRAMES // 10), answer, send)
        loop.run(fuzzer.connection.close())
        loop.run(bystander.connection.close())
    finally:
        loop.stop()


@pytest.fixture
def testapp_server_unlimited(testapp_servers):
    return testapp_servers(
        env={"REALTIME_API_FRAME_RATE": "0", "REALTIME_API_USER_FRAME_RATE": "0"}
    )
