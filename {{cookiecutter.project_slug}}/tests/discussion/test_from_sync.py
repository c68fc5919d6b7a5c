"""Sync code that publishes, revokes or probes readiness does not grow its
context, and reuses one event loop.

Each `async_to_sync` call from a thread with no event loop runs in a new
thread, where Django's connection handler makes a new context variable, and
asgiref copies it back into the caller's context. A long-lived sync caller (a
shell, a worker, an HTTP thread) then gains one per call, and every later
sync/async hop copies them all: saves slow down without bound.
"""

import asyncio
import contextvars

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from discussion.models import Topic
from realtime_api import from_sync
from realtime_api.from_sync import call_async
from realtime_api.ops.health import READY_PATH

pytestmark = pytest.mark.django_db(transaction=True)

CALLS = 30


def context_size():
    return len(contextvars.copy_context())


def grows_by(action):
    action()  # the first call may set what every later one reuses
    before = context_size()
    for _ in range(CALLS):
        action()
    return context_size() - before


def test_saves_outside_a_socket_publish_without_growing_the_context():
    owner = get_user_model().objects.create_user(username="someone")
    assert grows_by(lambda: Topic.objects.create(title="t", owner=owner)) == 0


def test_revoking_a_token_closes_its_sockets_without_growing_the_context():
    user = get_user_model().objects.create_user(username="someone")

    def revoke():
        Token.objects.create(user=user).delete()

    assert grows_by(revoke) == 0


def test_readiness_over_sync_http_does_not_grow_the_context():
    client = Client()
    assert grows_by(lambda: client.get(READY_PATH)) == 0


def test_call_async_returns_the_result_and_keeps_the_callers_context():
    var = contextvars.ContextVar("var", default="caller")

    async def set_and_return(value):
        var.set(value)
        return value * 2

    assert call_async(set_and_return, 21) == 42
    assert var.get() == "caller"


async def running_loop():
    return asyncio.get_running_loop()


def test_sync_callers_share_one_loop_of_their_own():
    """Not a loop (and a Runtime, and a Redis connection) per call."""
    first = call_async(running_loop)
    assert call_async(running_loop) is first
    assert first.is_running()


def test_a_forked_process_starts_its_own_loop(monkeypatch):
    """After a fork the parent's loop thread is gone: the child starts one."""
    first = call_async(running_loop)
    monkeypatch.setattr(from_sync, "_loop_pid", -1)  # as in a forked child
    assert call_async(running_loop) is not first


async def test_a_sync_view_under_a_server_runs_on_the_servers_loop():
    """As asgiref does: the server's loop owns the sockets' runtime."""
    server_loop = asyncio.get_running_loop()
    assert await sync_to_async(call_async)(running_loop) is server_loop


async def test_async_code_is_told_to_await_instead():
    with pytest.raises(RuntimeError, match="await"):
        call_async(running_loop)


def test_sync_saves_prints_each_round_against_its_baseline(capsys):
    """bench.sync_saves: published and not, and the context variables held."""
    from bench import sync_saves

    assert sync_saves.main(["--saves", "5", "--rounds", "2"]) == 0
    rounds = [line for line in capsys.readouterr().out.splitlines() if "round" in line]
    assert len(rounds) == 3, rounds  # the header says the saves a round
    assert "ms a save published" in rounds[1]
    assert "not published" in rounds[2]
    assert "context variables held" in rounds[2]
