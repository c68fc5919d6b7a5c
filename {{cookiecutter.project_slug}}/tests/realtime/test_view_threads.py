"""Where socket requests run their views (realtime_api/streams/view_threads.py).

One thread on SQLite by default; REALTIME_API_VIEW_THREADS threads (four on
PostgreSQL by default) let the views of several sockets run at once, while
each socket's own requests stay one at a time, in order.
"""

import asyncio
import json
import threading

import pytest
from django.db import connection

from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import get_registry
from realtime_api.streams.view_threads import default_count
from realtime_api.testing import expect_ok

from .helpers import communicator
from .testapp.models import Note

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three_view_threads(settings):
    settings.REALTIME_API_VIEW_THREADS = 3


def test_one_thread_on_sqlite_four_on_a_database_server():
    assert default_count() == (1 if connection.vendor == "sqlite" else 4)


async def test_views_of_two_sockets_run_at_once(three_view_threads, user, monkeypatch):
    """Two requests wait for each other inside the view: both pass only in two threads.

    With one thread (Channels' database thread) the first waits alone until
    the barrier breaks, and both answer 500.
    """
    barrier = threading.Barrier(2, timeout=5)
    threads = []

    def meet(endpoint, action, lookup, payload, method=None):
        threads.append(threading.current_thread().name)
        barrier.wait()
        return 200, "null"

    monkeypatch.setattr(Endpoint, "dispatch", meet)
    async with communicator(user) as a, communicator(user) as b:
        answers = await asyncio.gather(
            a.request("notes", "list", timeout=10),
            b.request("notes", "list", timeout=10),
        )
    assert [answer["status"] for answer in answers] == [200, 200]
    assert len(set(threads)) == 2
    assert all(name.startswith("realtime-view") for name in threads), threads


async def test_a_sockets_requests_keep_their_order(three_view_threads, world, user):
    """Frames sent at once run one at a time: answers and writes in frame order."""
    folder = world.public_folder.pk
    async with communicator(user) as ws:
        for i in range(20):
            payload = {"folder": folder, "text": f"note {i}"}
            frame = {
                "stream": "notes/create/",
                "request_id": str(i),
                "payload": payload,
            }
            await ws.send_text(json.dumps(frame))
        answers = [await ws.receive_response(str(i), timeout=10) for i in range(20)]
    ids = [expect_ok(answer, 201)["data"]["id"] for answer in answers]
    assert ids == sorted(ids)
    texts = await asyncio.to_thread(
        lambda: list(Note.objects.filter(pk__in=ids).order_by("pk").values_list("text"))
    )
    assert texts == [(f"note {i}",) for i in range(20)]


@pytest.mark.postgres
async def test_the_view_threads_give_their_database_connections_back(
    three_view_threads, world, user
):
    """After the views ran, no view thread holds a connection.

    With the pool (CONN_MAX_AGE 0) a connection a thread kept would never go
    back: three per event loop, until the pool is empty and every request
    waits.
    """
    folder = world.public_folder.pk
    sockets = [communicator(user) for _ in range(3)]
    for ws in sockets:
        await ws.__aenter__()
    try:
        await asyncio.gather(
            *(
                ws.request("notes", "create", payload={"folder": folder, "text": "x"})
                for ws in sockets
            )
        )
    finally:
        for ws in sockets:
            await ws.__aexit__(None, None, None)
    executor = get_registry().runtime().view_threads.executor
    barrier = threading.Barrier(3, timeout=5)  # One check in each thread.

    def holds_a_connection():
        barrier.wait()
        return connection.connection is not None

    checks = [executor.submit(holds_a_connection) for _ in range(3)]
    assert [check.result(timeout=10) for check in checks] == [False] * 3
