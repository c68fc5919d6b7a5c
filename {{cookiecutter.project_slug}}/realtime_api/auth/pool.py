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

The password threads run at a lower CPU priority (nice +PASSWORD_NICE, per
thread on Linux): a flood of wrong passwords from many addresses still
hashes, but yields the core to the event loop and the views whenever they
have work. Handshakes wait for a thread on the event loop, taking turns
round their addresses (fair_turns.py), and each is checked again when its
turn comes: a client that has gone is not hashed for, nor is an address
whose wrong passwords ran out while it waited (429, as the guard says).

Only the handshake authenticates: the socket's requests reuse its outcome
(auth.Credentials.authenticate).
"""

import functools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async

from realtime_api import conf
from realtime_api.limits.budgets import client_address
from realtime_api.limits.password_failures import failures as password_failures
from realtime_api.limits.refusal import Refusal, RefusalLog
from realtime_api.sockets.server_transport import transport_of
from realtime_api.streams.fair_turns import FairTurns
from realtime_api.streams.view_threads import with_fresh_connection

logger = logging.getLogger(__name__)

MAX_WAIT = 2.0  # Seconds a handshake may wait for an authentication thread.
PASSWORD_NICE = 10  # How much less CPU priority the password threads get.

# A flood of passwords past the cap: one WARNING line a second, counting them.
refusal_log = RefusalLog(logger, logging.WARNING)
# Clients gone before their turn: one INFO line a second.
gone_log = RefusalLog(logger, logging.INFO)


class Busy(Exception):
    """Too many handshakes are being authenticated: refuse this one."""


class Late(Exception):
    """The handshake waited too long for a thread: refuse it unchecked."""


class AuthPool:
    """Runs authentication functions in `threads` threads, `queue` waiting."""

    def __init__(self, threads, queue, nice=0):
        self.threads = threads
        self.capacity = threads + queue
        self.running = 0  # Taken and released on the event loop's thread.
        self.turns = FairTurns(threads)  # Waiting is done on the loop.
        self.executor = ThreadPoolExecutor(
            threads,
            thread_name_prefix="realtime-auth",
            initializer=functools.partial(lower_priority, nice) if nice else None,
        )

    async def run(self, function, *args, key=None, recheck=None):
        """Return function(*args), run in the pool in `key`'s turn.

        Raise Busy when the pool is full, Late when the turn came too late;
        `recheck()` is called when the turn comes: what it raises is raised
        instead of running the function.
        """
        if self.running >= self.capacity:
            raise Busy
        self.running += 1
        try:
            queued_at = time.monotonic()
            async with self.turns.turn(key):
                if time.monotonic() - queued_at > MAX_WAIT:
                    raise Late
                if recheck is not None:
                    recheck()
                return await self.in_thread(function, *args)
        finally:
            self.running -= 1

    def in_thread(self, function, *args):
        run = sync_to_async(
            with_fresh_connection, thread_sensitive=False, executor=self.executor
        )
        return run(function, *args)


def lower_priority(nice):
    """Lower this thread's CPU priority by `nice` (Linux: nice is per thread)."""
    try:
        thread = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + nice))
    except (AttributeError, OSError):  # Not on this system: the cap still holds.
        logger.debug("Cannot lower the password threads' priority", exc_info=True)


class Gone(Exception):
    """The client left while its handshake waited: nothing to check."""


class Refused(Exception):
    """The handshake is refused unchecked, as `refusal` says."""

    def __init__(self, refusal):
        self.refusal = refusal


def recheck(scope):
    """Whether a handshake that waited for its turn is still worth checking."""
    if transport_of(scope).gone():
        raise Gone
    refusal = password_failures.refusal(scope)
    if refusal is not None:
        raise Refused(refusal)


_pools: dict[Any, Any] = {}


def get_pool(lane):
    """The process's pool for `lane`, built on first use from the settings."""
    if lane not in _pools:
        if lane == "password":
            pool = AuthPool(conf.password_threads(), conf.auth_queue(), PASSWORD_NICE)
        else:
            pool = AuthPool(conf.auth_threads(), conf.auth_queue())
        _pools[lane] = pool
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
    returned None: the credentials were checked and refused. A Refusal is
    returned when the handshake is refused unchecked with a status of its own
    (429: its address's wrong passwords ran out while it waited).
    """
    lane = lane_of(scope)
    pool = get_pool(lane)
    try:
        result = await pool.run(
            function, scope, key=client_address(scope), recheck=lambda: recheck(scope)
        )
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
    except Gone:
        detail = "the client left while it waited for its turn."
        gone_log.refused(Refusal(403, 0, f"{lane}_gone", detail))
    except Refused as refused:
        return refused.refusal
    return None
