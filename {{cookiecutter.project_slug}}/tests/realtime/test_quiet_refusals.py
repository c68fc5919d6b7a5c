"""Refusals an attacker can repeat at will cost one log line, not a traceback.

Issue 23 item 6: an unrouted WebSocket path logged a ~30-line ERROR
traceback per handshake; a Host outside ALLOWED_HOSTS was accepted and each
paginated list answered 500; a 3,000-word `search` answered 500 (SQLite:
"Expression tree is too large") with the payload in the log.
"""

import asyncio
import logging

import pytest

from realtime_api.streams.search import BoundedSearchFilter
from realtime_api.testing.live_server import DaphneServer, UvicornServer

from .helpers import communicator, http_twin

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY_WORDS = " ".join(f"w{i}" for i in range(3000))


async def handshake_status(port, path="/ws/", host=None):
    """Open a raw WebSocket handshake with this Host; return the HTTP status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host or f'127.0.0.1:{port}'}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    try:
        async with asyncio.timeout(20):
            status_line = await reader.readline()
    finally:
        writer.close()
    return int(status_line.split()[1])


@pytest.fixture(params=[DaphneServer, UvicornServer], ids=["daphne", "uvicorn"])
def project_server(request, transactional_db):
    """The project's application (config.asgi) on a real server."""
    server = request.param().start()
    yield server
    server.stop()


@pytest.mark.live
async def test_an_unrouted_path_is_refused_with_one_line(project_server):
    """404 (on daphne too: limits/refusal.py), an INFO line, and no traceback."""
    paths = ["/ws/a/b/c/", "/nowhere/", "/ws/comments/extra/"]
    statuses = [await handshake_status(project_server.port, path) for path in paths]
    assert await handshake_status(project_server.port) == 101  # The API's own path.
    await asyncio.sleep(0.5)  # The log is written.
    log = project_server.log()
    assert set(statuses) == {404}, statuses
    assert "Traceback" not in log and "ERROR" not in log, log


@pytest.mark.live
async def test_a_host_outside_allowed_hosts_is_refused_at_the_handshake(project_server):
    """Over HTTP Django answers 400; the handshake is refused 400 too."""
    for host in ("evil.example", "127.0.0.1.evil.example:80"):
        status = await handshake_status(project_server.port, host=host)
        assert status == 400, status
    await asyncio.sleep(0.5)
    log = project_server.log()
    assert "Traceback" not in log and "ERROR" not in log, log


async def test_a_search_the_database_cannot_take_is_a_400(world, user, caplog):
    """Over HTTP, `list` and `watch` on the socket: 400 naming the bound."""
    caplog.set_level(logging.INFO)
    payload = {"search": TOO_MANY_WORDS}
    status, data = await http_twin(user, "notes", "list", None, payload)
    assert status == 400
    limit = BoundedSearchFilter.max_terms
    assert data == {"search": [f"Use at most {limit} search terms."]}
    async with communicator(user) as ws:
        response = await ws.request("notes", "list", payload=payload)
        assert (response["status"], response["data"]) == (400, data)
        response = await ws.request("notes", "watch", payload=payload)
        assert (response["status"], response["data"]) == (400, data)
        words = " ".join(f"w{i}" for i in range(limit))
        response = await ws.request("notes", "list", payload={"search": words})
        assert response["status"] == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
