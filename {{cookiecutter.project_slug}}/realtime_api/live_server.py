"""Real daphne processes for live tests: a real server and real sockets.

The server process must use the test database, so `database_url()` turns
the test connection's settings into a DATABASE_URL for it.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from .client import RealtimeClient
from .testing import new_transcript


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout, process=None):
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


def database_url(settings_dict=None):
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


class DaphneServer:
    """A daphne process serving the project's ASGI application on a free port."""

    def __init__(self, env=None, application="config.asgi:application"):
        self.port = free_port()
        self.application = application
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.test"
            ),
            "DATABASE_URL": database_url(),
            **(env or {}),
        }
        self.process = None
        self.log_file = tempfile.NamedTemporaryFile(
            "w+", prefix="daphne-", suffix=".log"
        )

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
        command += ["-p", str(self.port), self.application]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        if not wait_for_port(self.port, timeout, self.process):
            self.stop()
            raise RuntimeError(f"daphne did not start:\n{self.log()}")
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self):
        """What the server printed so far (its log records included)."""
        self.log_file.flush()
        with open(self.log_file.name) as log:
            return log.read()


def live_client(server_url, session_key=None, path="/ws/", **options):
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
