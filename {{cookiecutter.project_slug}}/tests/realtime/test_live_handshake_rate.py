"""Admission of handshakes, on daphne and on uvicorn (issues 23 and 28).

A reconnect storm after a restart, or a handshake flood, is bounded before
any authentication: one address past its bucket is answered 429, a process
with too many handshakes in flight 503, both with Retry-After (PROTOCOL.md,
"Reconnecting clients"), and neither costs more than a log line a second.
"""

import asyncio
import base64

import pytest
import websockets

from realtime_api.testing.live_server import DaphneServer, UvicornServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

RATE = {
    "REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS": "0.5",
    "REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS": "5",
}


async def handshake(server, headers=None, local_address="127.0.0.1"):
    """Open a socket from `local_address`: 101, else (status, Retry-After)."""
    origin = server.url.replace("ws://", "http://")
    try:
        ws = await websockets.connect(
            server.url + "/ws/",
            additional_headers=headers or {},
            origin=origin,
            open_timeout=30,
            local_addr=(local_address, 0),
        )
    except websockets.InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers.get("Retry-After")
    await ws.close()
    return 101, None


@pytest.fixture(params=[DaphneServer, UvicornServer], ids=["daphne", "uvicorn"])
def start_server(request, transactional_db):
    """`start(env)`: the project's application on daphne, then on uvicorn."""
    servers = []

    def start(env):
        server = request.param(env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_an_address_past_its_burst_is_refused_429(start_server):
    """The burst is accepted, the next handshake is 429 with Retry-After."""
    server = start_server(RATE)
    statuses = [(await handshake(server))[0] for _ in range(5)]
    assert statuses == [101] * 5
    status, retry_after = await handshake(server)
    assert status == 429 and int(retry_after) >= 1, (status, retry_after)


async def test_another_address_keeps_its_own_bucket(start_server):
    """127.0.0.2 is admitted while 127.0.0.1 is refused; a forged header is not."""
    server = start_server(RATE)
    for _ in range(5):
        await handshake(server)
    forged = {"X-Forwarded-For": "10.0.0.1", "X-Real-IP": "10.0.0.2"}
    # No proxy is trusted: on uvicorn too, which believes X-Forwarded-For from
    # 127.0.0.1 by default (--forwarded-allow-ips) and so would let a client
    # on loopback choose its address (budgets.with_real_peer).
    assert (await handshake(server, forged))[0] == 429
    assert (await handshake(server, local_address="127.0.0.2"))[0] == 101


async def test_a_flood_of_refusals_logs_a_line_a_second_at_most(start_server):
    """60 refused handshakes in about a second: no traceback, at most 3 lines."""
    server = start_server(RATE)
    for _ in range(5):
        await handshake(server)
    statuses = await asyncio.gather(*(handshake(server) for _ in range(60)))
    assert {status for status, _ in statuses} == {429}
    await asyncio.sleep(0.5)  # The log is written.
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log
    assert log.count("WebSocket handshakes refused") <= 3, log


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


async def test_handshakes_past_the_bound_in_flight_are_refused_503(start_server):
    """Two slow handshakes in flight (a PBKDF2 each): the others are 503, 1-5 s.

    A wrong Basic password holds its handshake about 0.25 s in the one
    password thread; once they are decided a new handshake is admitted.
    """
    server = start_server(
        {
            "DJANGO_SETTINGS_MODULE": "tests.realtime.slow_hash_settings",
            "REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT": "2",
            "REALTIME_API_PASSWORD_THREADS": "1",
        }
    )
    wrong = {"Authorization": basic("nosuchuser", "x")}
    answers = await asyncio.gather(*(handshake(server, wrong) for _ in range(8)))
    statuses = sorted(status for status, _ in answers)
    assert 503 in statuses and statuses.count(403) >= 1, statuses
    waits = [int(retry) for status, retry in answers if status == 503]
    assert all(1 <= wait <= 5 for wait in waits), waits
    assert (await handshake(server))[0] == 101  # The slots were given back.
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log


async def test_wrong_passwords_past_the_limit_are_429_before_hashing(start_server):
    """3 wrong Basic passwords are 403; the 4th handshake is 429 with Retry-After.

    Another address still has its own allowance; nothing is logged at ERROR.
    """
    server = start_server({"REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS": "3"})
    wrong = {"Authorization": basic("nosuchuser", "x")}
    statuses = [(await handshake(server, wrong))[0] for _ in range(3)]
    assert statuses == [403] * 3
    status, retry_after = await handshake(server, wrong)
    assert status == 429 and int(retry_after) >= 1, (status, retry_after)
    assert (await handshake(server, wrong, local_address="127.0.0.2"))[0] == 403
    assert (await handshake(server))[0] == 101  # No password: not this limit's.
    await asyncio.sleep(0.5)  # The log is written.
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log
    assert "429 password_failures" in log, log
