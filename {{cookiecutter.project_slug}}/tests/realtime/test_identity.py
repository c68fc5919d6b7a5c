"""PROTOCOL.md "Present credentials": the socket's user is the user as stored now.

In this process, on the test app (staff see every folder). No signal
announces these changes (`QuerySet.update()`, a session row deleted or
expired, a token row deleted by `update()`-like SQL): identity.py's sweep
must find them within 1 s. With the sample app, its tests repeat them
through real daphne processes (test_live_identity.py).
"""

import asyncio
import time
from base64 import b64encode
from datetime import timedelta

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import path
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from realtime_api.auth import identity, tickets
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.streams.registry import Registry
from realtime_api.testing import create_session, subscribe, watch

from .extra_streams import QuietConsumer
from .helpers import WITHIN, close_code, communicator, mint_ticket
from .testapp.views import FolderViewSet

pytestmark = pytest.mark.django_db(transaction=True)


def sync(function):
    return database_sync_to_async(function)


async def test_privileges_follow_the_user_as_stored_now(
    world, admin, django_user_model
):
    """Staff taken away by update(): the open socket answers 404 within the
    bound, its subscription and live query are told `leave`, and it stays open."""
    private = world.private_folder
    async with communicator(admin) as ws:
        assert (await ws.request("folders", "retrieve", private.pk))["status"] == 200
        await subscribe(ws, "folders", {"ids": [private.pk]})
        await watch(ws, "notes", {})
        rows = django_user_model.objects.filter(pk=admin.pk)
        await sync(rows.update)(is_staff=False)
        started = time.monotonic()
        while (await ws.request("folders", "retrieve", private.pk))["status"] != 404:
            assert time.monotonic() - started < WITHIN, "the socket kept staff"
            await asyncio.sleep(0.1)
        left = set()
        async with asyncio.timeout(WITHIN):
            while len(left) < 2:
                event = await ws.receive_event(WITHIN)
                assert event["action"] == "leave", event
                key = "watch" if "watch" in event else "subscription"
                if key == "watch":
                    assert event["data"] == {"id": world.private_note.pk}
                else:
                    assert event["data"] == {"id": private.pk}
                left.add(key)
        # Given back: the live query shows the private note again.
        await sync(rows.update)(is_staff=True)
        event = await ws.receive_event(WITHIN)
        assert (event["action"], event["data"]["id"]) == (
            "enter",
            world.private_note.pk,
        )


async def test_deactivation_by_update_closes_the_socket(user, django_user_model):
    async with communicator(user) as ws:
        assert (await ws.request("folders", "list"))["status"] == 200
        await sync(django_user_model.objects.filter(pk=user.pk).update)(is_active=False)
        assert await close_code(ws) == CLOSE_CODE


async def test_sockets_of_one_user_share_one_user_object_read_once(user, monkeypatch):
    """A second socket of a user holds the object the first read: one per
    user and process, and no read of the user per handshake (BENCHMARKS.md,
    "An idle socket, item by item")."""
    monkeypatch.setattr(identity, "SWEEP_SECONDS", 60)  # Only handshakes read.
    reads = []
    read_users = identity.read_users
    monkeypatch.setattr(
        identity, "read_users", lambda pks: reads.append(pks) or read_users(pks)
    )
    async with communicator(user), communicator(user):
        sockets = identity.sweep_of_this_loop().sockets
        async with asyncio.timeout(WITHIN):  # Accepted, then watched.
            while len(sockets) < 2:
                await asyncio.sleep(0.01)
        first, second = (consumer.scope["user"] for consumer in sockets)
        assert first is second
        assert reads == [{user.pk}]


async def test_a_socket_opened_right_after_a_change_follows_it_within_the_bound(
    world, admin, django_user_model
):
    """Staff taken away while another socket of the user is open: a socket
    opened just then shares the old user object, and the sweep still brings
    both to the user as stored now within the bound."""
    private = world.private_folder
    rows = django_user_model.objects.filter(pk=admin.pk)
    async with communicator(admin) as first:
        await sync(rows.update)(is_staff=False)
        async with communicator(admin) as second:
            started = time.monotonic()
            for ws in (second, first):
                while (await ws.request("folders", "retrieve", private.pk))[
                    "status"
                ] != 404:
                    assert time.monotonic() - started < WITHIN, "kept staff"
                    await asyncio.sleep(0.1)


@pytest.mark.parametrize("end", ["delete", "expire"])
async def test_a_session_that_ends_closes_its_socket(user, end):
    ws = communicator(user)
    await ws
    async with ws:
        key = ws.cookies[settings.SESSION_COOKIE_NAME]
        sessions = Session.objects.filter(session_key=key)
        if end == "delete":
            await sync(sessions.delete)()
        else:
            await sync(sessions.update)(
                expire_date=timezone.now() + timedelta(seconds=1)
            )
        assert await close_code(ws, 1 + WITHIN) == CLOSE_CODE


@pytest.mark.parametrize("minted_with", ["session", "token"])
async def test_a_ticket_socket_ends_with_its_minter(user, minted_with):
    """The minting session or token deleted (no signal for a session row):
    the ticket socket closes 4001, and an unspent ticket is void."""
    cookie = communicator(user)
    await cookie
    key = cookie.cookies[settings.SESSION_COOKIE_NAME]
    token = await sync(Token.objects.create)(user=user)
    credentials = (
        {"session_key": key} if minted_with == "session" else {"token": token.key}
    )
    spent, unspent = (
        await sync(mint_ticket)(**credentials),
        await sync(mint_ticket)(**credentials),
    )
    async with communicator(path=f"/ws/?ticket={spent}") as ws:
        assert (await ws.request("folders", "list"))["status"] == 200
        if minted_with == "session":
            await sync(Session.objects.filter(session_key=key).delete)()
        else:
            await sync(Token.objects.filter(key=token.key).delete)()
        assert await close_code(ws) == CLOSE_CODE
    assert await sync(tickets.redeem)(unspent) is None


class StaffShareOneAudience(QuietConsumer):
    """Folders where every staff user shares one audience (one evaluation)."""

    view = FolderViewSet
    stream = "staff-shared"

    def get_visibility_key(self):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and user.is_staff:
            return "staff"
        return super().get_visibility_key()


shared_registry = Registry()
shared_registry.register(StaffShareOneAudience)
shared_application = AuthMiddlewareStack(
    URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=shared_registry))])
)


async def test_a_user_who_leaves_a_shared_visibility_key_is_closed(
    world, admin, django_user_model
):
    """A staff socket listening with the shared "staff" audience must not keep
    it once no longer staff: closed 4001, to listen under its own key."""
    private = world.private_folder
    async with communicator(admin, application=shared_application) as ws:
        await subscribe(ws, "staff-shared", {"id": private.pk})
        rows = django_user_model.objects.filter(pk=admin.pk)
        await sync(rows.update)(is_staff=False)
        assert await close_code(ws) == CLOSE_CODE


async def test_the_sweep_reads_a_fixed_number_of_queries(user, django_user_model):
    """Six queries for any number of users, sessions and tokens (db engine)."""
    users = [user] + [
        await database_sync_to_async(django_user_model.objects.create_user)(f"u{i}")
        for i in range(5)
    ]

    def held():
        return [identity.Held(u.pk, session_key=create_session(u)) for u in users] + [
            identity.Held(u.pk, token_key=Token.objects.create(user=u).key)
            for u in users
        ]

    helds = await database_sync_to_async(held)()

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            state = identity.read_state(helds)
        assert all(state.accepts(h) for h in helds)
        return len(queries)

    assert await database_sync_to_async(count)() <= 6


def test_a_ticket_minted_by_basic_auth_is_not_bound_to_a_stray_session(user):
    """Basic authenticated the request, not the (anonymous) session cookie sent
    beside it: the ticket is the user's alone, and opens."""
    client = APIClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = create_session(None)
    client.credentials(HTTP_AUTHORIZATION="Basic " + b64encode(b"user:pw").decode())
    response = client.post("/api/realtime/ticket/")
    assert response.status_code == 201, response.content
    assert tickets.redeem_minted(response.json()["ticket"]) == (user, None)
