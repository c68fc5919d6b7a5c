"""Budgets per user and per address, in process (issue 23, item 2).

What one user's sockets may cost together: frames a second, signals a
second, subscriptions and watches; and whose address an anonymous socket
counts as. The socket budget and its HTTP 429 against a real daphne:
test_live_limits.py.
"""

import asyncio
import json
import logging
from contextlib import AsyncExitStack
from types import SimpleNamespace

import pytest

from realtime_api.limits.budgets import client_address, refuse_handshake
from realtime_api.testing import join, subscribe, watch

from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def sockets(stack, user, count):
    return [await stack.enter_async_context(communicator(user)) for _ in range(count)]


async def test_frames_a_second_are_shared_by_a_users_sockets(world, user, settings):
    """5 sockets x 20 frames at once, 30 a user: the rest 429 naming the setting."""
    settings.REALTIME_API_USER_FRAME_RATE = 1
    settings.REALTIME_API_USER_FRAME_BURST = 30
    frame = json.dumps({"stream": "folders/list/", "request_id": "r"})
    async with AsyncExitStack() as stack:
        clients = await sockets(stack, user, 5)
        for ws in clients:
            for _ in range(20):
                await ws.send_to(text_data=frame)
        answers = [
            json.loads(await ws.receive_from(5)) for ws in clients for _ in range(20)
        ]
    statuses = [answer["status"] for answer in answers]
    assert statuses.count(200) <= 31  # The burst, and what 1 a second added.
    refused = [a for a in answers if a["status"] == 429]
    assert len(refused) >= 69
    assert all("REALTIME_API_USER_FRAME_RATE" in a["data"]["detail"] for a in refused)
    assert all(a["data"]["wait"] > 0 for a in refused)


async def test_signals_a_second_are_shared_by_a_users_sockets(world, user, settings):
    """4 sockets, 5 signals each (the socket's burst is 10): 6 a user get through."""
    settings.REALTIME_API_USER_SIGNALS_PER_SECOND = 0.1
    settings.REALTIME_API_USER_SIGNAL_BURST = 6
    folder = world.public_folder
    async with AsyncExitStack() as stack:
        clients = await sockets(stack, user, 4)
        for ws in clients:
            await join(ws, "folders", folder.pk)
        statuses = []
        for ws in clients:
            for _ in range(5):
                reply = await ws.request("folders", "signal", folder.pk, {"n": 1})
                statuses.append(reply["status"])
    assert statuses.count(200) == 6 and statuses.count(429) == 14


async def test_watches_and_subscriptions_are_counted_across_a_users_sockets(
    world, user, other, settings
):
    """3 watches and 3 subscriptions a user, over two sockets; another user apart."""
    settings.REALTIME_API_MAX_WATCHES_PER_USER = 3
    settings.REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER = 3
    async with AsyncExitStack() as stack:
        first, second = await sockets(stack, user, 2)
        (elsewhere,) = await sockets(stack, other, 1)
        for ws, text in ((first, "a"), (first, "b"), (second, "c")):
            await watch(ws, "notes", {"search": text})
            await subscribe(ws, "notes", {"text": text})
        watch_refused = await second.request("notes", "watch", payload={"search": "d"})
        subscribe_refused = await second.request(
            "notes", "subscribe", payload={"text": "d"}
        )
        await watch(elsewhere, "notes", {"search": "d"})
        await subscribe(elsewhere, "notes", {"text": "d"})
        # The same filter again replaces a subscription: not one more.
        await subscribe(second, "notes", {"text": "c"})
    assert watch_refused["status"] == 429
    assert "REALTIME_API_MAX_WATCHES_PER_USER" in watch_refused["data"]["detail"]
    assert subscribe_refused["status"] == 429
    assert (
        "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER"
        in (subscribe_refused["data"]["detail"])
    )


async def test_a_closed_socket_gives_its_budget_back(world, user, settings):
    """Watches of a socket that closed no longer count."""
    settings.REALTIME_API_MAX_WATCHES_PER_USER = 1
    async with communicator(user) as ws:
        await watch(ws, "notes", {"search": "a"})
    await asyncio.sleep(0)
    async with communicator(user) as ws:
        await watch(ws, "notes", {"search": "b"})


def scope(peer, **headers):
    """A handshake's scope from `peer`, with headers given as x_real_ip=..."""
    encoded = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"client": (peer, 5000), "headers": encoded}


def test_the_address_is_the_peers_unless_a_trusted_proxy_says(settings):
    """X-Forwarded-For / X-Real-IP count only from REALTIME_API_TRUSTED_PROXIES."""
    forged = scope("203.0.113.9", x_forwarded_for="10.0.0.1", x_real_ip="10.0.0.2")
    settings.REALTIME_API_TRUSTED_PROXIES = []
    assert client_address(forged) == "203.0.113.9"
    settings.REALTIME_API_TRUSTED_PROXIES = ["127.0.0.1", "10.8.0.0/16"]
    assert client_address(forged) == "203.0.113.9"  # Not a proxy of ours.
    proxied = scope("10.8.3.4", x_forwarded_for="6.6.6.6, 198.51.100.7")
    assert client_address(proxied) == "198.51.100.7"  # The entry our proxy added.
    assert client_address(scope("127.0.0.1", x_real_ip="198.51.100.8")) == (
        "198.51.100.8"
    )
    assert client_address(scope("127.0.0.1", x_forwarded_for="junk")) == "127.0.0.1"


async def test_socket_budget_refusals_log_a_line_a_second_at_most(caplog):
    """A user opening 50 sockets over its budget: one INFO line, not 50."""
    sent = []

    async def send(message):
        sent.append(message["type"])

    consumer = SimpleNamespace(scope={"type": "websocket"}, base_send=send)
    with caplog.at_level(logging.INFO, logger="realtime_api.limits.budgets"):
        for _ in range(50):
            await refuse_handshake(consumer, "over the socket budget")
    assert sent == ["websocket.close"] * 50  # Each one refused all the same.
    lines = [r for r in caplog.records if r.name == "realtime_api.limits.budgets"]
    assert len(lines) <= 1, [r.getMessage() for r in lines]
