"""Real server processes for live tests (daphne, or uvicorn): real sockets.

The server process must use the test database, so `database_url()` turns
the test connection's settings into a DATABASE_URL for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import websockets
from django.conf import settings
from django.db import connection

from realtime_api.client import RealtimeClient, open_socket
from realtime_api.testing import FrameClient, new_transcript


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[Any] | None = None
) -> bool:
    """Wait until `port` accepts connections; False if it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def database_url(settings_dict: Mapping[str, Any] | None = None) -> str:
    """Return a DATABASE_URL for the database the tests use now."""
    db = settings_dict or connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if "postgresql" in db["ENGINE"]:
        auth = quote(db.get("USER") or "")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"])
        host = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        return f"postgres://{auth}@{host}/{quote(db['NAME'])}"
    raise NotImplementedError(f"No DATABASE_URL for {db['ENGINE']}")


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> HttpResponse:
    """GET `url` with a real HTTP client; any status is an answer, not an error."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, body = error.code, error.headers, error.read()
    return HttpResponse(status, {k.lower(): v for k, v in head.items()}, body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Show redirects to the test instead of following them."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class DaphneServer:
    """A daphne process serving the project's ASGI application on a free port.

    `options` are more daphne command-line options (e.g. --proxy-headers);
    `backlog`, the listen backlog (Twisted's default: 50), as the deployed
    unit asks for it. `stop()` then `start()` restarts it on the same port.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        application: str = "config.asgi:application",
        options: Iterable[str] = (),
        backlog: int | None = None,
    ) -> None:
        self.port = free_port()
        self.application = application
        self.options = list(options)
        self.backlog = backlog
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.test"
            ),
            "DATABASE_URL": database_url(),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_file = tempfile.NamedTemporaryFile(
            "w+", prefix="daphne-", suffix=".log"
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        listen = ["-b", "127.0.0.1", "-p", str(self.port)]
        if self.backlog is not None:
            endpoint = f"tcp:port={self.port}:interface=127.0.0.1"
            listen = ["--endpoint", f"{endpoint}:backlog={self.backlog}"]
        return [
            *(sys.executable, "-m", "daphne", *listen),
            *self.options,
            self.application,
        ]

    def start(self, timeout: float = 30) -> DaphneServer:
        self.process = subprocess.Popen(
            self.command(), env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        if not wait_for_port(self.port, timeout, self.process):
            self.stop()
            raise RuntimeError(f"{self.command()[2]} did not start:\n{self.log()}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        """What the server printed so far (its log records included)."""
        self.log_file.flush()
        with open(self.log_file.name) as log:
            return log.read()


class UvicornServer(DaphneServer):
    """The same, served by uvicorn (the `uvicorn` extra) instead of daphne."""

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "--host", "127.0.0.1"),
            *("--port", str(self.port), "--log-level", "warning"),
            *self.options,
            self.application,
        ]


class RedisServer:
    """A throwaway redis-server on a spare port, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        if not wait_for_port(self.port, 10, self.process):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def live_client(
    server_url: str, session_key: str | None = None, path: str = "/ws/", **options: Any
) -> RealtimeClient:
    """A Python client (realtime_api.client) of a live server, for tests.

    `session_key` logs it in with that session's cookie; other options go to
    RealtimeClient (`token=`, `reconnect=`, ...). Its frames are recorded for
    the AsyncAPI check of the test run. Use it as an async context manager.
    """
    if session_key:
        options.setdefault("cookie", {settings.SESSION_COOKIE_NAME: session_key})
    transcript = new_transcript()
    if transcript is not None:
        options.setdefault("trace", transcript.record)
    options.setdefault("timeout", 5)  # A real server on a loaded machine.
    return RealtimeClient(server_url + path, **options)


class LiveClient(FrameClient):
    """One real socket read frame by frame, for tests that look at every frame.

    It opens the socket as the Python client does (`open_socket()`: cookie,
    token or ticket), without the client's own bookkeeping (reconnects,
    subscriptions, live lists), so a test sees exactly what the server sent::

        async with await LiveClient.connect(server.url, session_key) as client:
            response = await client.request("topics", "list")
    """

    timeout: float = 5  # a real server on a loaded machine may take a while

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.transcript = new_transcript()
        if self.transcript is not None:
            self.transcript.record("open")
        self.start_frames()

    @classmethod
    async def connect(
        cls,
        base_url: str,
        session_key: str | None = None,
        path: str = "/ws/",
        **options: Any,
    ) -> LiveClient:
        if session_key:
            options.setdefault("cookie", {settings.SESSION_COOKIE_NAME: session_key})
        return cls(await open_socket(base_url + path, **options))

    async def __aenter__(self) -> LiveClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.connection.close()

    async def send_text(self, text: str) -> None:
        if self.transcript is not None:
            self.transcript.record("send", text)
        await self.connection.send(text)

    async def receive_text(self, timeout: float) -> str:
        async with asyncio.timeout(timeout):
            text = await self.connection.recv()
        if self.transcript is not None:
            self.transcript.record("receive", text)
        return cast(str, text)  # A text frame: what the protocol sends.

    async def close_code(self, timeout: float = 5) -> int | None:
        """Wait for the server to close the socket; return the close code."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    await self.connection.recv()
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
