"""Where handshake authentication runs: a few threads of its own, with a cap.

Checking a password is slow on purpose (PBKDF2, ~0.25 s), and anyone can
send a wrong one without an account. Run in Channels' database thread, which
every socket's subscribe, join, watch snapshot and (on SQLite) every view
shares, 16 bad `Authorization: Basic` handshakes would stall every other
socket for seconds. Here header authentication runs in threads of its own,
in two lanes, so that a flood of passwords does not delay tokens either:

- "password": `Authorization: Basic` (a password to hash), in
  REALTIME_API_PASSWORD_THREADS threads (1: the other core stays with the
  event loop);
- "other": any other scheme (a token: one query), in
  REALTIME_API_AUTH_THREADS threads.

Each lane takes at most its threads + REALTIME_API_AUTH_QUEUE handshakes at
a time in a process: past that a handshake is refused at once (HTTP 403, as
any refused handshake, and one WARNING line a second at most), so a flood
costs the server no more than over HTTP (a hash per request that is let
in), and no other socket waits for it. A handshake that waited MAX_WAIT
seconds for a thread is refused without being checked: its client (and
daphne, 5 s after the connection opened) is about to give up on it anyway.
A wrong password counts against its address (password_failures.py).

Only the handshake authenticates: the socket's requests reuse its outcome
(auth.Credentials.authenticate).
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async

from realtime_api import conf
from realtime_api.limits.refusal import Refusal, RefusalLog
from realtime_api.streams.view_threads import with_fresh_connection

logger = logging.getLogger(__name__)

MAX_WAIT = 2.0  # Seconds a handshake may wait for an authentication thread.

# A flood of passwords past the cap: one WARNING line a second, counting them.
refusal_log = RefusalLog(logger, logging.WARNING)


class Busy(Exception):
    """Too many handshakes are being authenticated: refuse this one."""


class Late(Exception):
    """The handshake waited too long for a thread: refuse it unchecked."""


class AuthPool:
    """Runs authentication functions in `threads` threads, `queue` waiting."""

    def __init__(self, threads, queue):
        self.threads = threads
        self.capacity = threads + queue
        self.running = 0  # Taken and released on the event loop's thread.
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="realtime-auth")

    async def run(self, function, *args):
        """Return function(*args), run in the pool; raise Busy when it is full."""
        if self.running >= self.capacity:
            raise Busy
        self.running += 1
        try:
            return await sync_to_async(
                self._in_time, thread_sensitive=False, executor=self.executor
            )(time.monotonic(), function, *args)
        finally:
            self.running -= 1

    def _in_time(self, queued_at, function, *args):
        if time.monotonic() - queued_at > MAX_WAIT:
            raise Late
        return with_fresh_connection(function, *args)


_pools: dict[Any, Any] = {}


def get_pool(lane):
    """The process's pool for `lane`, built on first use from the settings."""
    if lane not in _pools:
        threads = conf.password_threads() if lane == "password" else conf.auth_threads()
        _pools[lane] = AuthPool(threads, conf.auth_queue())
    return _pools[lane]


def lane_of(scope):
    """The lane: "password" for `Authorization: Basic`, else "other"."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            return "password" if value[:6].lower() == b"basic " else "other"
    return "other"


async def authenticate(function, scope, rejected=None):
    """Return function(scope), run in the scope's lane; None when it is full.

    `rejected(scope)` is called (on the event loop) when the function ran and
    returned None: the credentials were checked and refused.
    """
    lane = lane_of(scope)
    pool = get_pool(lane)
    try:
        result = await pool.run(function, scope)
        if result is None and rejected is not None:
            rejected(scope)
        return result
    except Busy:
        detail = (
            f"{pool.capacity} {lane} authentications already running or waiting "
            "(REALTIME_API_AUTH_QUEUE)."
        )
        refusal_log.refused(Refusal(403, 0, f"{lane}_busy", detail))
    except Late:
        detail = f"it waited over {MAX_WAIT:g} s for a {lane} authentication thread."
        refusal_log.refused(Refusal(403, 0, f"{lane}_late", detail))
    return None
