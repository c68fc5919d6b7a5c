"""Sync code that publishes, revokes or probes readiness does not grow its context.

Each `async_to_sync` call from a thread with no event loop runs in a new
thread, where Django's connection handler makes a new context variable, and
asgiref copies it back into the caller's context. A long-lived sync caller (a
shell, a worker, an HTTP thread) then gains one per call, and every later
sync/async hop copies them all: saves slow down without bound.
"""

import contextvars

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from discussion.models import Topic
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
