"""An idle socket holds what it needs and no more (issue 27, BENCHMARKS.md W3).

A server process holds thousands of sockets that send nothing for hours:
each costs only what Channels' own consumer costs (its task waiting on the
server, its task waiting on the channel layer), plus the state of what the
socket has asked for. Tasks and queues of ours start with the first frame
or message and end when it is done.
"""

import asyncio
import json
import os
from collections import deque

import pytest

import realtime_api
from realtime_api.auth import identity
from realtime_api.sockets import frame_reader, server_transport
from realtime_api.sockets.server_transport import TwistedTransport

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)

# Channels' consumer: the server's `receive` and the channel layer's, each
# awaited in a task; the communicator runs the application in a third.
CHANNELS_TASKS = 3
APP_FOLDER = os.path.dirname(realtime_api.__file__)


def open_consumers():
    """The consumers of this test's open sockets (of its event loop)."""
    return list(identity.sweep_of_this_loop().sockets)


def parts_of(consumer):
    """The per-socket objects of ours that an open socket keeps."""
    return [consumer.inbox, consumer.outbox, consumer.outbox.transport]


def heavy_state(obj):
    """The attributes of `obj` that hold a task, an event or a queue."""
    names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
    names += list(getattr(obj, "__dict__", ()))
    return {
        name: value
        for name in names
        if isinstance(
            value := getattr(obj, name, None),
            asyncio.Task | asyncio.Event | asyncio.Queue | deque,
        )
    }


async def settle():
    """Let what a frame started finish (answers sent, tasks ended)."""
    for _ in range(5):
        await asyncio.sleep(0.02)


async def test_an_idle_socket_holds_no_task_of_ours(user):
    """After the handshake, and again after a request, only Channels' tasks run."""
    async with communicator(user):  # The process's sweep, started once.
        await settle()
        before = len(asyncio.all_tasks())
        async with communicator(user) as ws:
            await settle()
            assert len(asyncio.all_tasks()) - before == CHANNELS_TASKS
            response = await ws.request("folders", "list")
            assert response["status"] == 200
            await settle()
            assert len(asyncio.all_tasks()) - before == CHANNELS_TASKS


async def test_an_idle_socket_keeps_no_queue_event_or_task(user):
    """Its inbox, outbox and transport make those on first use and drop them."""
    async with communicator(user) as ws:
        await settle()
        [consumer] = open_consumers()
        for part in parts_of(consumer):
            assert heavy_state(part) == {}, part
        await ws.request("folders", "list")
        await settle()
        for part in parts_of(consumer):
            assert heavy_state(part) == {}, part


def awaiting(task):
    """(file, name) of the coroutines a task is suspended in, outermost first."""
    frames, coro = [], task.get_coro()
    while hasattr(coro, "cr_code"):
        frames.append((coro.cr_code.co_filename, coro.cr_code.co_qualname))
        coro = coro.cr_await
    return frames


async def test_no_middleware_of_ours_keeps_a_frame_for_the_socket(user):
    """Ours decide at the handshake and hand on the inner coroutine.

    One exception: the handshake guard awaits the socket so that its count of
    handshakes in flight ends even when the application fails before it
    accepts (limits/handshake_rate.py); one frame, not one per check.
    """
    async with communicator(user) as ws:
        await settle()
        stack = awaiting(ws.future)
        assert "AsyncConsumer.__call__" in {name for _, name in stack}
        ours = [name for file, name in stack if file.startswith(APP_FOLDER)]
        assert ours in ([], ["HandshakeGuard.__call__"])


def waiting_on_the_server():
    """The stacks of the tasks that await the server's next message."""
    return [
        stack
        for task in asyncio.all_tasks()
        if (stack := awaiting(task)) and stack[0][1] == "FrameReader.receive"
    ]


async def test_an_idle_sockets_receive_passes_through_the_frame_reader_only(user):
    """Once the handshake is decided, the guard's watch is out of the way.

    An idle socket awaits its next message for hours: each coroutine of ours
    between the frame reader and the server's queue is a frame per socket.
    """
    async with communicator(user) as ws:
        await settle()
        [stack] = waiting_on_the_server()
        ours = [name for file, name in stack if file.startswith(APP_FOLDER)]
        assert ours == ["FrameReader.receive"]
        await ws.request("folders", "list")  # Still read, still answered.
        await settle()
        [stack] = waiting_on_the_server()
        assert [name for file, name in stack if file.startswith(APP_FOLDER)] == [
            "FrameReader.receive"
        ]


async def test_the_transport_and_frame_reader_join_scopes_made_for_the_socket():
    """No copy of the scope for their keys: each would live as long as the socket.

    The server makes a scope per socket, and URLRouter a copy per socket
    (routing.py routes every FrameReaderMiddleware): each copy of its
    twenty keys or so costs an idle socket about 800 bytes.
    """
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope)

    async def receive():
        return {"type": "websocket.connect"}

    server_scope = {"type": "websocket", "path": "/ws/"}
    await server_transport.ServerTransportMiddleware(inner)(server_scope, None, None)
    routed = {"type": "websocket", "path": "/ws/", "url_route": {"kwargs": {}}}
    await frame_reader.FrameReaderMiddleware(inner)(routed, receive, None)
    assert seen[0] is server_scope and server_transport.SCOPE_KEY in server_scope
    assert seen[1] is routed and frame_reader.SCOPE_KEY in routed


async def test_daphne_transport_keeps_an_event_only_while_twisted_is_full():
    """The event a send waits on exists from pauseProducing() to resumeProducing()."""
    transport = TwistedTransport(protocol=None)
    assert transport.paused is None
    transport.pauseProducing()
    waiting = asyncio.create_task(transport.writable())
    await asyncio.sleep(0)
    assert not waiting.done()
    transport.resumeProducing()
    await asyncio.wait_for(waiting, 1)
    assert transport.paused is None


async def test_frames_sent_right_after_the_handshake_run_in_order(user):
    """Frames that wait in the server while the handshake ends are read first."""
    ws = communicator(user)
    await ws
    await ws.send_input({"type": "websocket.connect"})
    # Queued before the consumer has even answered the handshake.
    for i in range(20):
        frame = {"stream": "folders/list/", "request_id": i}
        await ws.send_to(text_data=json.dumps(frame))
    message = await ws.receive_output(5)
    assert message["type"] == "websocket.accept"
    ids = [json.loads(await ws.receive_from(5))["request_id"] for _ in range(20)]
    assert ids == list(range(20))
    await ws.disconnect()
