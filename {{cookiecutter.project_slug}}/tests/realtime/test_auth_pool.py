"""Header authentication runs off the database thread every socket shares.

A wrong `Authorization: Basic` password costs a PBKDF2 (~0.25 s): run in
Channels' database thread, 16 of them stalled every other socket for
seconds (issue 23). They run in realtime_api/auth/pool.py's threads, capped,
and a socket's frames reuse the handshake's authentication.
"""

import asyncio
import base64
import os
import statistics
import threading
import time
from unittest import mock

import pytest
import websockets
from django.test import override_settings
from rest_framework.authentication import BasicAuthentication

from realtime_api.auth import handshake as auth
from realtime_api.auth import pool as auth_pool
from realtime_api.limits.password_failures import failures
from realtime_api.sockets import server_transport
from realtime_api.testing import create_token
from realtime_api.testing.live_server import DaphneServer, live_client

from .test_handshake_auth import refused, token_socket
from .whoami import username

pytestmark = pytest.mark.django_db(transaction=True)

APPLICATION = "tests.realtime.whoami_asgi:application"


def basic(username, password):
    return base64.b64encode(f"{username}:{password}".encode()).decode()


async def test_header_authentication_runs_in_the_auth_threads(user):
    """Not in the database thread that runs every socket's subscribe and views."""
    threads = []
    real = auth.authenticate_header

    def recording(scope):
        threads.append(threading.current_thread().name)
        return real(scope)

    with mock.patch.object(auth, "authenticate_header", recording):
        async with token_socket(basic(user.username, "pw"), scheme="Basic") as socket:
            assert await username(socket) == user.username
        assert await refused(token_socket(basic("nosuchuser", "x"), scheme="Basic"))
    assert len(threads) == 2
    assert all(name.startswith("realtime-auth") for name in threads), threads


async def test_a_basic_socket_checks_its_password_once_not_per_frame(user):
    """Its frames (and watch evaluations) reuse the handshake's authentication."""
    checks = mock.Mock(wraps=BasicAuthentication.authenticate_credentials)

    def counted(self, *args, **kwargs):
        return checks(self, *args, **kwargs)

    with mock.patch.object(BasicAuthentication, "authenticate_credentials", counted):
        async with token_socket(basic(user.username, "pw"), scheme="Basic") as socket:
            for _ in range(5):
                assert await username(socket) == user.username
    assert checks.call_count == 1  # The handshake's.


@override_settings(REALTIME_API_PASSWORD_THREADS=1, REALTIME_API_AUTH_QUEUE=0)
async def test_past_the_cap_a_handshake_is_refused_at_once(user, monkeypatch):
    """With the password lane busy, another Basic handshake is a 403 at once."""
    monkeypatch.setattr(auth_pool, "_pools", {})
    entered, release = threading.Event(), threading.Event()
    real = auth.authenticate_header

    def slow(scope):
        if auth_pool.lane_of(scope) == "password":
            entered.set()
            release.wait(10)
        return real(scope)

    with mock.patch.object(auth, "authenticate_header", slow):
        first = asyncio.ensure_future(
            refused(token_socket(basic(user.username, "pw"), scheme="Basic"))
        )
        await asyncio.to_thread(entered.wait, 10)
        started = time.monotonic()
        assert await refused(token_socket(basic(user.username, "pw"), scheme="Basic"))
        assert time.monotonic() - started < 2
        # A token has a lane of its own: it does not wait for the password.
        async with token_socket(await create_token(user)) as socket:
            assert await username(socket) == user.username
        release.set()
        assert await first is False


@pytest.fixture
def slow_hash_server(transactional_db):
    """daphne with Django's real PBKDF2 hasher, serving whoami's socket.

    Every wrong password is hashed (no limit per address: that is
    test_password_failures.py's), so the flood reaches the password lane.
    """
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.realtime.slow_hash_settings",
        "REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS": "0",
    }
    server = DaphneServer(env=env, application=APPLICATION).start()
    yield server
    server.stop()


async def round_trips(server, count):
    """`count` whoami round trips of an anonymous socket, in seconds each."""
    async with live_client(server.url, timeout=30) as client:
        await client.request("whoami", "list")  # Warm up.
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            await client.request("whoami", "list")
            latencies.append(time.perf_counter() - started)
    return latencies


async def bad_basic_handshakes(server, concurrency, stop):
    """`concurrency` handshakes at a time with a wrong Basic password until
    `stop` is set: their statuses (or the exception's name)."""
    header = {"Authorization": f"Basic {basic('nosuchuser', 'x')}"}
    statuses = []

    async def one():
        while not stop.is_set():
            try:
                ws = await websockets.connect(
                    f"{server.url}/ws/", additional_headers=header, open_timeout=15
                )
            except websockets.InvalidStatus as exc:
                statuses.append(exc.response.status_code)
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                statuses.append(type(exc).__name__)
            else:
                statuses.append(101)
                await ws.close()

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return statuses


@pytest.mark.live
@pytest.mark.timeout(120)
async def test_bad_basic_handshakes_do_not_stall_other_sockets(slow_hash_server):
    """16 concurrent bad Basic handshakes: another socket's round trips stay fast.

    The baseline is measured in the same test, before and after the flood
    (the slower of the two: a loaded machine slows both); the flood lasts
    while the round trips are measured, so the test's length does not grow
    with the machine's load. On the database thread the round trips took
    seconds (each waited for the hashes).
    """
    before = statistics.median(await round_trips(slow_hash_server, 20))
    stop = asyncio.Event()
    attack = asyncio.ensure_future(bad_basic_handshakes(slow_hash_server, 16, stop))
    await asyncio.sleep(0.3)  # The handshakes are in.
    during = await round_trips(slow_hash_server, 20)
    stop.set()
    statuses = await attack
    after = statistics.median(await round_trips(slow_hash_server, 20))
    alone = max(before, after)
    assert set(statuses) == {403}, (statuses, slow_hash_server.log())
    assert statistics.median(during) <= max(5 * alone, alone + 0.25), (alone, during)
    assert "ERROR" not in slow_hash_server.log()


class GoneTransport:
    def gone(self):
        return True


def basic_scope(address="127.0.0.9", transport=None):
    scope = {
        "type": "websocket",
        "client": (address, 5000),
        "headers": [(b"authorization", f"Basic {basic('nosuchuser', 'x')}".encode())],
    }
    if transport is not None:
        scope[server_transport.SCOPE_KEY] = transport
    return scope


@pytest.fixture
def password_lane(monkeypatch, settings):
    """A fresh password lane of one thread, with room for two waiting."""
    settings.REALTIME_API_PASSWORD_THREADS = 1
    settings.REALTIME_API_AUTH_QUEUE = 2
    monkeypatch.setattr(auth_pool, "_pools", {})
    return auth_pool


async def test_the_password_threads_run_at_a_lower_priority(password_lane):
    """A flood of hashes yields the CPU to the event loop and the views."""

    def my_nice(scope):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    password = await auth_pool.authenticate(my_nice, basic_scope())
    token = await auth_pool.authenticate(my_nice, {"type": "websocket"})
    assert password == min(19, ours + auth_pool.PASSWORD_NICE)
    assert token == ours  # Tokens are one query: not lowered.


async def holding_the_lane(release):
    """Take the password lane's one thread until `release` is set."""

    def hold(scope):
        release.wait(10)

    task = asyncio.ensure_future(auth_pool.authenticate(hold, basic_scope("10.0.0.1")))
    while not auth_pool.get_pool("password").turns.running:
        await asyncio.sleep(0.01)
    return task


async def test_a_handshake_whose_client_left_is_not_hashed(password_lane):
    release, hashed = threading.Event(), []
    holder = await holding_the_lane(release)
    waiting = asyncio.ensure_future(
        auth_pool.authenticate(hashed.append, basic_scope(transport=GoneTransport()))
    )
    await asyncio.sleep(0.05)  # It waits for its turn; its client leaves.
    release.set()
    assert await waiting is None
    assert hashed == []
    await holder


async def test_an_address_out_of_wrong_passwords_while_waiting_is_429_unhashed(
    password_lane, settings
):
    """Its turn comes after its address's last wrong password: not hashed."""
    settings.REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS = 1
    release, hashed = threading.Event(), []

    def wrong(scope):
        hashed.append(scope)
        release.wait(10)  # The first is being hashed while the second waits.

    first = asyncio.ensure_future(
        auth_pool.authenticate(wrong, basic_scope(), rejected=failures.failed)
    )
    while not auth_pool.get_pool("password").turns.running:
        await asyncio.sleep(0.01)
    second = asyncio.ensure_future(
        auth_pool.authenticate(wrong, basic_scope(), rejected=failures.failed)
    )
    await asyncio.sleep(0.05)
    release.set()
    assert await first is None
    refusal = await second
    assert refusal.status == 429 and refusal.retry_after >= 1
    assert len(hashed) == 1
