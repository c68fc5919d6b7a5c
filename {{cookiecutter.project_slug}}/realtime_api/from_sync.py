"""Call async code from sync code (a save's on_commit, a sync middleware)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync

T = TypeVar("T")


def call_async(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run `func(*args)` to completion from sync code; return its result.

    In a copy of the caller's context: asgiref copies every context variable
    the call sets back into the caller's, and from a thread with no event
    loop each call sets a new one (Django's connection handler, in the thread
    asgiref starts). A long-lived caller would gain one per call, and every
    later sync/async hop would copy them all.
    """
    return contextvars.copy_context().run(async_to_sync(func), *args)
