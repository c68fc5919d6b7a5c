"""The Python client's pure parts: frames, errors, and a live query's order."""

import asyncio

import pytest

from realtime_api.client import (
    LiveQuery,
    RealtimeClient,
    RequestError,
    checked,
    ordering_compare,
    request_frame,
)


def test_requests_use_the_path_form_and_the_structured_one_for_odd_lookups():
    """Frames any PROTOCOL.md server reads (the bench's reference too)."""
    assert request_frame("comments", "update", 5, {"text": "hi"}) == {
        "stream": "comments/update/5/",
        "payload": {"text": "hi"},
    }
    assert request_frame("files", "retrieve", "a/b") == {
        "stream": "files",
        "action": "retrieve",
        "lookup": "a/b",
        "payload": {},
    }
    assert request_frame("comments", "subscribe", None, {"topic": 1}, 7)["since"] == 7


def test_an_error_status_raises_with_the_status_and_the_body():
    """RequestError carries the HTTP status and body of the refusal."""
    frame = {"type": "response", "stream": "comments", "action": "create"}
    assert checked({**frame, "status": 201, "data": {}})["status"] == 201
    with pytest.raises(RequestError) as refused:
        checked({**frame, "status": 400, "data": {"text": ["Required."]}})
    assert (refused.value.status, refused.value.data) == (400, {"text": ["Required."]})
    assert "comments/create answered 400" in str(refused.value)


def sort(items, ordering):
    import functools

    return sorted(items, key=functools.cmp_to_key(ordering_compare(ordering)))


def test_ordering_follows_the_server():
    """Fields with '-', date-times as times, nulls first, ties by id."""
    items = [
        {"id": 3, "created": "2024-05-01T10:00:00Z", "rank": None},
        {"id": 1, "created": "2024-05-01T10:00:00.5Z", "rank": 2},
        {"id": 2, "created": "2024-05-01T09:59:59.999999+00:00", "rank": 2},
    ]
    assert [i["id"] for i in sort(items, "-created")] == [1, 3, 2]
    assert [i["id"] for i in sort(items, "rank")] == [3, 1, 2]
    assert [i["id"] for i in sort(items, ["-rank", "-pk"])] == [2, 1, 3]
    assert ordering_compare("") is None
    assert ordering_compare(None) is None


async def test_a_live_query_applies_enter_update_and_leave_in_order():
    """Items stay sorted; a no-op update and an unknown leave report nothing."""
    live = LiveQuery(client=None, standing=None, compare=ordering_compare("-n"))
    live._reset({"data": {"results": [{"id": 1, "n": 3}, {"id": 2, "n": 1}]}}, False)

    def event(action, **data):
        live._apply({"type": "event", "action": action, "data": data})

    event("enter", id=3, n=2)
    event("update", id=2, n=5)
    event("update", id=2, n=5)  # Nothing changed.
    event("leave", id=1)
    event("leave", id=99)  # Never held.
    changes = [await live.next(timeout=1) for _ in range(3)]
    assert [(c.action, c.item["id"], c.index) for c in changes] == [
        ("enter", 3, 1),
        ("update", 2, 0),
        ("leave", 1, None),
    ]
    assert changes[1].previous == {"id": 2, "n": 1}
    assert live.items == [{"id": 2, "n": 5}, {"id": 3, "n": 2}]
    with pytest.raises(TimeoutError):
        await live.next(timeout=0.05)


async def test_a_client_that_cannot_connect_raises():
    """No server: connect() raises, and a request without connect() too."""
    client = RealtimeClient("ws://127.0.0.1:9/ws/", open_timeout=2)
    with pytest.raises((OSError, asyncio.TimeoutError)):
        await client.connect()
    with pytest.raises(RequestError):
        await RealtimeClient("ws://127.0.0.1:9/ws/").request("comments", "list")


async def test_every_subscription_of_a_stream_resumes_from_the_seq_seen_before():
    """After a reconnect, the replay of the first subscription may be read
    while the next is sent: the next still resumes from the seq of before."""
    client = RealtimeClient("ws://127.0.0.1:9/ws/")
    for topic in (1, 2):
        client._standings.subscription("comments", {"topic": topic}).answered = True
    client._standings.seqs = {"comments": 5}
    client._connected, client._generation, client._open = True, 1, asyncio.Event()
    sent = []

    async def send(frame, on_answer=None):
        sent.append(frame["since"])
        client._standings.seqs["comments"] = 9  # The first one's replay, meanwhile.
        return asyncio.get_running_loop().create_future()

    client._send = send
    await client._resume()
    assert sent == [5, 5]


def test_a_request_frame_names_an_extra_action_and_its_method():
    """Any action of the stream, a view's @action too, with "method" when given."""
    assert request_frame("topics", "close", 3) == {
        "stream": "topics/close/3/",
        "payload": {},
    }
    assert request_frame("folders", "label", 3, {"name": "x"}, method="put") == {
        "stream": "folders/label/3/",
        "payload": {"name": "x"},
        "method": "put",
    }
