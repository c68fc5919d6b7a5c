"""Views take turns round the users (realtime_api/streams/fair_turns.py).

One user's many sockets queued their views ahead of everyone's in the one
shared view thread (SQLite): the neighbours bench's many-sockets attack.
"""

import asyncio
import json
import threading
import time
from contextlib import AsyncExitStack

import pytest

from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.fair_turns import FairTurns

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_another_users_request_waits_two_turns_not_fifty():
    """50 views of one user queued, then one of another: it runs third."""
    turns = FairTurns(1)
    order, go = [], asyncio.Event()

    async def view(key, name):
        async with turns.turn(key):
            order.append(name)
            await go.wait()

    noisy = [asyncio.create_task(view("noisy", i)) for i in range(50)]
    await asyncio.sleep(0)  # The first runs, 49 wait.
    victim = asyncio.create_task(view("victim", "victim"))
    await asyncio.sleep(0)
    go.set()
    await asyncio.gather(*noisy, victim)
    assert order.index("victim") == 2
    assert turns.running == 0 and not turns.waiting


async def test_slots_run_at_once_and_a_cancelled_waiter_gives_its_turn_on():
    turns = FairTurns(2)
    inside, leave = [], asyncio.Event()

    async def hold(key):
        async with turns.turn(key):
            inside.append(key)
            await leave.wait()

    holders = [asyncio.create_task(hold(k)) for k in ("a", "b", "c", "d")]
    await asyncio.sleep(0.01)
    assert inside == ["a", "b"]  # Two slots; c and d wait.
    holders[2].cancel()
    leave.set()
    await asyncio.gather(*holders, return_exceptions=True)
    assert inside == ["a", "b", "d"]
    assert turns.running == 0 and not turns.waiting


async def test_a_users_sockets_do_not_queue_ahead_of_another_user(
    world, user, other, monkeypatch
):
    """10 sockets of one user keep the view thread busy; another user's list
    runs within two views of being sent (in arrival order: after all ten)."""
    started = []  # The user of each view, in the order they ran.
    lock = threading.Lock()

    def slow_view(endpoint, action, lookup, payload, method=None):
        with lock:
            started.append(endpoint.scope["user"].pk)
        time.sleep(0.02)
        return 200, "null"

    monkeypatch.setattr(Endpoint, "dispatch", slow_view)
    frame = json.dumps({"stream": "folders/list/", "request_id": "r"})
    async with AsyncExitStack() as stack:
        noisy = [await stack.enter_async_context(communicator(user)) for _ in range(10)]
        victim = await stack.enter_async_context(communicator(other))
        for ws in noisy:
            await ws.send_to(text_data=frame)
        while not started:
            await asyncio.sleep(0.001)
        sent_after = len(started)
        answer = await victim.request("folders", "list", timeout=10)
        for ws in noisy:
            json.loads(await ws.receive_from(10))
    assert answer["status"] == 200
    assert started.index(other.pk) - sent_after <= 2, started
