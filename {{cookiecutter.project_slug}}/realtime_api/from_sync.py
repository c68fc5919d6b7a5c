"""Call async code from sync code (a save's on_commit, a sync middleware)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def call_async(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run `func(*args)` to completion from sync code; return its result.

    In a thread that a server's event loop started (a sync view under
    daphne), on that loop, as asgiref does. Elsewhere (a shell, a WSGI
    worker, Celery, a test) on one event loop this process keeps for it:
    asgiref would start a thread and a loop per call, and with them a new
    Runtime and a new Redis connection.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("call_async() is for sync code: await the function instead")
    if _server_loop() is not None:
        # In a copy of the caller's context: asgiref copies every context
        # variable the call sets back into the caller's.
        return contextvars.copy_context().run(async_to_sync(func), *args)
    return asyncio.run_coroutine_threadsafe(func(*args), _own_loop()).result()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def _own_loop() -> asyncio.AbstractEventLoop:
    """This process's loop for sync callers, started on first use (and after a fork)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(
                target=_loop.run_forever, name="realtime_api.from_sync", daemon=True
            ).start()
        return _loop
