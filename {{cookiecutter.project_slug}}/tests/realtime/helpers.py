"""Helpers of the protocol tests: the HTTP twin of a request, and raw frames.

PROTOCOL.md promises that a request frame gets what the same request gets
over HTTP. `http_twin()` sends that request with DRF's APIClient, logged in
as the same user through the same session authentication, so a test can
compare the two answers. Streams are served at /api/<stream>/ over HTTP.
"""

import asyncio
import json
import secrets
import subprocess
import urllib.request
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from rest_framework.test import APIClient

from config.asgi import application
from realtime_api.streams.actions import BODY, QUERY
from realtime_api.streams.registry import get_registry
from realtime_api.testing import AuthWebsocketCommunicator
from tests.conftest import require_program

from .testapp.models import Folder, Note

# The identity sweep's bound is 1 s; a loaded machine gets some slack.
WITHIN = 3.0

# Fields that differ between two otherwise equal writes.
VOLATILE_FIELDS = frozenset({"id", "created", "updated"})


class _RolledBack(Exception):
    """Raised to undo the writes of a dry run."""


def http_path(stream, action, lookup=None):
    """The HTTP twin's path of `action` (an Action of the stream's table)."""
    path = f"/api/{stream}/" + (f"{lookup}/" if lookup is not None else "")
    return path + (f"{action.name}/" if action.kind == "extra" else "")


def _http_request(user, stream, name, lookup, payload, method):
    client = APIClient()
    if user is not None:
        client.force_login(user)
    # The project's action table says what the frame stands for over HTTP.
    action = get_registry().get(stream).actions[name]
    method = method or action.default_method
    path = http_path(stream, action, lookup)
    send = getattr(client, method)
    sent_as = action.payload_for(method)
    if sent_as == QUERY:
        response = send(f"{path}?{urlencode(payload or {}, doseq=True)}")
    elif sent_as == BODY:
        response = send(path, payload or {}, format="json")
    else:
        response = send(path)
    body = json.loads(response.content) if response.content else None
    return response.status_code, body


def _http_twin(user, stream, action, lookup, payload, dry_run, method):
    if not dry_run:
        return _http_request(user, stream, action, lookup, payload, method)
    try:
        with transaction.atomic():
            result = _http_request(user, stream, action, lookup, payload, method)
            raise _RolledBack
    except _RolledBack:
        return result


async def http_twin(
    user, stream, action, lookup=None, payload=None, dry_run=False, method=None
):
    """Return (status, body) of the HTTP request a WebSocket request stands for.

    `action` is any action of the stream's table, an @action's url_path
    included; `method` picks one of its HTTP methods (default: its first).
    `dry_run=True` rolls the request's writes back (and so sends no event),
    so the same write can then be made over the socket on the same rows.
    """
    return await database_sync_to_async(_http_twin)(
        user, stream, action, lookup, payload, dry_run, method
    )


def without_volatile(data):
    """`data` without ids and timestamps, to compare two equal writes."""
    if isinstance(data, dict):
        return {
            k: without_volatile(v) for k, v in data.items() if k not in VOLATILE_FIELDS
        }
    if isinstance(data, list):
        return [without_volatile(item) for item in data]
    return data


def communicator(user=None, path="/ws/", application=application, **kwargs):
    """A communicator of the full ASGI application, as `user` (None: anonymous)."""
    return AuthWebsocketCommunicator(application, path, user=user, **kwargs)


async def raw_response(ws, text=None, bytes_data=None):
    """Send one raw frame and return the next frame, decoded."""
    await ws.send_to(text_data=text, bytes_data=bytes_data)
    return json.loads(await ws.receive_from())


async def assert_still_open(ws):
    """Assert that the socket still answers a valid request."""
    response = await ws.request("folders", "list")
    assert response["status"] == 200, response


def _rows(models):
    return [row for model in models for row in model.objects.order_by("pk").values()]


async def rows(*models):
    """Every row of `models`, in primary key order."""
    return await database_sync_to_async(_rows)(models)


async def snapshot():
    """Every folder and note row, to prove that a refused request wrote nothing."""
    return await rows(Folder, Note)


async def save(obj, **fields):
    """Set `fields` on `obj` and save it (signals, and so events, included)."""
    for name, value in fields.items():
        setattr(obj, name, value)
    await obj.asave()
    return obj


def mint_ticket(session_key=None, token=None):
    """POST /api/realtime/ticket/ with a session cookie or a token; the ticket."""
    client = APIClient()
    if session_key is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post("/api/realtime/ticket/")
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def node_command():
    """node with the flags its WebSocket needs (node 22, or 20 with a flag)."""
    program = require_program("node", "to run realtime.js (apt-get install nodejs)")
    probe = [program, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"]
    flags = (
        [] if subprocess.run(probe).returncode == 0 else ["--experimental-websocket"]
    )
    return [program, *flags, "--no-warnings"]


async def run_node(script, *arguments, timeout):
    """Run a node script; the JSON lines it printed."""
    process = await asyncio.create_subprocess_exec(
        *node_command(), str(script), *arguments, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    return [json.loads(line) for line in out.decode().splitlines()]


async def close_code(ws, timeout=WITHIN):
    """The code the server closed with (frames before it are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            output = await ws.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output.get("code")


def log_out_over_http(server, session_key):
    """POST /api-auth/logout/ as the browser of that session would (CSRF included)."""
    csrf = secrets.token_hex(16)  # Django accepts a token the browser set itself.
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api-auth/logout/",
        method="POST",
        headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
