"""Credentials that expire, and `reauthenticate` (PROTOCOL.md, "Present credentials").

In process, with `SignedExpiringToken` (expiring_token.py), a JWT-like class:
a socket closes with 4001 when its token's `exp` passes, unless a
`reauthenticate` frame brought a fresher token of the same user first.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from realtime_api.auth import tickets
from realtime_api.auth.expiry import expires_at_of
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.schema.asyncapi import build_document
from realtime_api.streams.registry import Registry
from realtime_api.testing import AuthWebsocketCommunicator, create_token, create_user
from realtime_api.testing.frame_check import FrameChecker, Transcript

from . import expiring
from .expiring import SignedExpiringToken, application, bearer
from .testapp.models import Folder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]


@pytest.fixture(autouse=True)
def bearer_settings():
    """The project adds SignedExpiringToken to its authentication classes."""
    with override_settings(REST_FRAMEWORK=expiring.REST_FRAMEWORK):
        yield


def header_socket(authorization):
    """A socket whose handshake carries `Authorization: <authorization>`, no Origin."""
    header = (b"authorization", authorization.encode("latin-1"))
    return AuthWebsocketCommunicator(application, "/ws/", headers=[header], origin=None)


async def opened(socket):
    await socket
    connected, code = await socket.connect()
    assert connected, f"refused ({code})"
    return socket


async def whoami(socket, stream="bearer-whoami"):
    """The username the socket's requests run as (the view reads Bearer tokens)."""
    response = await socket.request(stream, "list")
    assert response["status"] == 200, response
    return response["data"]["username"]


async def reauthenticate(socket, payload, request_id="re-1"):
    """Send a reauthenticate frame; return its response frame."""
    frame = {"stream": "reauthenticate", "payload": payload, "request_id": request_id}
    await socket.send_text(json.dumps(frame))
    return await socket.receive_response(request_id)


async def closed_within(socket, seconds):
    """The close code the server sends within `seconds` (events skipped)."""
    async with asyncio.timeout(seconds):
        while True:
            message = await socket.receive_output(timeout=seconds)
            if message["type"] == "websocket.close":
                return message["code"]


async def still_open(socket, seconds):
    """Nothing (no close) arrives for `seconds`, and a request is answered."""
    assert await socket.queue_empty(seconds)
    return await whoami(socket)


def parse(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# --- Expiry ----------------------------------------------------------------------


async def test_a_socket_closes_4001_when_its_token_expires(user):
    """Open with a token that expires in 1 s: it works, then closes 4001."""
    socket = await opened(header_socket(bearer(user, 1)))
    assert await whoami(socket) == user.username
    assert await closed_within(socket, 3) == CLOSE_CODE


async def test_an_expired_token_is_refused_at_the_handshake(user):
    """A token past its exp opens nothing (HTTP 403)."""
    socket = header_socket(bearer(user, -1))
    await socket
    connected, _ = await socket.connect()
    assert not connected


class PastByHook(SignedExpiringToken):
    """Accepts a token, and says through its hook that it expired a second ago."""

    def get_expires_at(self, user, auth):
        return datetime.now(UTC) - timedelta(seconds=1)


async def test_the_hook_refuses_a_handshake_its_class_accepts_past_expiry(user):
    """A class that accepts a token its own get_expires_at() says is past: 403."""
    path = f"{__name__}.PastByHook"
    rest = {**expiring.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": [path]}
    with override_settings(REST_FRAMEWORK=rest):
        socket = header_socket(bearer(user, 60))
        await socket
        connected, _ = await socket.connect()
        assert not connected


async def test_a_token_without_expiry_sets_no_timer(user):
    """A DRF Token does not expire: its socket stays; reauthenticating with it
    answers a null expiry."""
    key = await create_token(user)
    socket = await opened(header_socket(f"Token {key}"))
    response = await reauthenticate(socket, {"authorization": f"Token {key}"})
    assert response["data"] == {"expires_at": None}
    assert await still_open(socket, 1) == user.username
    await socket.disconnect()


# --- reauthenticate ----------------------------------------------------------------


async def test_reauthenticating_before_expiry_keeps_the_socket_open(user):
    """A fresher token of the same user moves the expiry; later requests carry it."""
    socket = await opened(header_socket(bearer(user, 1.5)))
    response = await reauthenticate(socket, {"authorization": bearer(user, 60)})
    assert response["status"] == 200, response
    assert response["type"] == "response"
    assert response["stream"] == "reauthenticate"
    assert response["request_id"] == "re-1"
    expires_at = parse(response["data"]["expires_at"])
    assert abs((expires_at - datetime.now(UTC)).total_seconds() - 60) < 5
    # Past the first token's exp: open, and a view that reads the header
    # itself reads the new one (the old one would be a 401 now).
    assert await still_open(socket, 2.5) == user.username
    assert await whoami(socket, "bearer-only") == user.username
    await socket.disconnect()


async def test_events_reach_a_socket_past_its_first_tokens_expiry(user, settings):
    """Events are evaluated for the socket's user after it reauthenticated,
    once the token it subscribed with has expired."""
    settings.REALTIME_API_REGISTRY = "tests.realtime.expiring.registry"
    folder = await database_sync_to_async(Folder.objects.create)(
        name="Mine", owner=user, is_private=True
    )
    socket = await opened(header_socket(bearer(user, 1.5)))
    response = await socket.request(
        "bearer-folders", "subscribe", payload={"ids": [folder.pk]}
    )
    assert response["data"]["matched"] == 1, response
    assert (await reauthenticate(socket, {"authorization": bearer(user, 60)}))[
        "status"
    ] == 200
    await asyncio.sleep(2)
    folder.name = "Renamed"
    await database_sync_to_async(folder.save)()
    event = await socket.receive_event(timeout=3)
    assert (event["action"], event["data"]["name"]) == ("update", "Renamed")
    await socket.disconnect()


async def test_the_new_expiry_is_kept_as_well(user):
    """Reauthenticated with a 1.5 s token: the socket closes at that one's exp;
    from a token that never expires, the socket starts to."""
    key = await create_token(user)
    socket = await opened(header_socket(f"Token {key}"))
    response = await reauthenticate(socket, {"authorization": bearer(user, 1.5)})
    assert response["status"] == 200
    assert await closed_within(socket, 4) == CLOSE_CODE


async def test_another_users_token_is_403_and_changes_nothing(user):
    """Never a switch of identity: the same user after, and the old expiry stands."""
    other = await create_user()
    socket = await opened(header_socket(bearer(user, 2)))
    response = await reauthenticate(socket, {"authorization": bearer(other, 60)})
    assert response["status"] == 403
    assert "another user" in response["data"]["detail"]
    assert await whoami(socket) == user.username
    assert await closed_within(socket, 4) == CLOSE_CODE


INVALID_CREDENTIALS = {
    "not signed": "Bearer not-signed",
    "expired": None,  # a token of the user's, a second past its exp
    "no token": "Bearer",
    "unknown key": "Token not-a-key",
    "unknown scheme": "Unknown scheme",
}


async def test_invalid_credentials_are_403_and_keep_the_old_expiry(user):
    """Wrong, expired or unknown credentials: 403, and the socket still closes
    at its own expiry (one socket per kind, all waiting for it at once)."""

    async def refused_and_expires(kind, authorization):
        socket = await opened(header_socket(bearer(user, 2)))
        response = await reauthenticate(socket, {"authorization": authorization})
        assert response["status"] == 403, (kind, response)
        assert await whoami(socket) == user.username, kind
        assert await closed_within(socket, 4) == CLOSE_CODE, kind

    await asyncio.gather(
        *(
            refused_and_expires(kind, authorization or bearer(user, -1))
            for kind, authorization in INVALID_CREDENTIALS.items()
        )
    )


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"authorization": None},
        {"authorization": 42},
        {"authorization": ""},
        {"authorization": "Bearer x\r\nCookie: a=b"},
        {"authorization": "Bearer \u20ac"},
    ],
    ids=["missing", "null", "number", "empty", "two lines", "not latin-1"],
)
async def test_a_bad_payload_is_400_and_changes_nothing(user, payload):
    """Said how to fix it; the socket keeps its user and serves on."""
    socket = await opened(header_socket(bearer(user, 60)))
    response = await reauthenticate(socket, payload)
    assert response["status"] == 400, response
    assert "authorization" in response["data"]["detail"]
    assert await whoami(socket) == user.username
    await socket.disconnect()


async def test_a_payload_that_is_no_object_is_400(user):
    socket = await opened(header_socket(bearer(user, 60)))
    frame = {"stream": "reauthenticate", "payload": [], "request_id": 1}
    await socket.send_text(json.dumps(frame))
    assert (await socket.receive_response(1))["status"] == 400
    await socket.disconnect()


async def test_a_cookie_socket_is_told_400(user):
    """A session socket follows its session: reauthenticate does not apply."""
    socket = await opened(AuthWebsocketCommunicator(application, "/ws/", user=user))
    response = await reauthenticate(socket, {"authorization": bearer(user, 60)})
    assert response["status"] == 400
    assert "session cookie" in response["data"]["detail"]
    await socket.disconnect()


async def test_a_ticket_socket_takes_the_expiry_of_its_users_credentials(user):
    """A page that buys tickets with expiring credentials refreshes them on the
    socket: the same user's token sets its expiry; another user's is a 403."""
    ticket, _ = await database_sync_to_async(tickets.issue)(user)
    socket = AuthWebsocketCommunicator(application, f"/ws/?ticket={ticket}")
    await opened(socket)
    other = await create_user()
    response = await reauthenticate(socket, {"authorization": bearer(other, 60)})
    assert response["status"] == 403
    response = await reauthenticate(socket, {"authorization": bearer(user, 1.5)}, 2)
    assert response["status"] == 200
    assert await closed_within(socket, 4) == CLOSE_CODE


async def test_reauthenticate_counts_against_the_frame_rate(user):
    """A flood of reauthenticate frames is refused (429) like any other frame."""
    with override_settings(REALTIME_API_FRAME_RATE=1, REALTIME_API_FRAME_BURST=2):
        socket = await opened(header_socket(bearer(user, 60)))
        frames = [
            {"stream": "reauthenticate", "payload": {"authorization": "x y"}}
            for _ in range(3)
        ]
        for number, frame in enumerate(frames):
            await socket.send_text(json.dumps({**frame, "request_id": number}))
        statuses = [
            (await socket.receive_response(number))["status"]
            for number in range(len(frames))
        ]
        assert statuses == [403, 403, 429], statuses
        await socket.disconnect()


async def test_a_revocable_token_swapped_in_is_followed(user):
    """Reauthenticated with a DRF Token: deleting that token closes the socket."""
    key = await create_token(user)
    socket = await opened(header_socket(bearer(user, 60)))
    response = await reauthenticate(socket, {"authorization": f"Token {key}"})
    assert response["data"] == {"expires_at": None}
    await database_sync_to_async(Token.objects.filter(key=key).delete)()
    assert await closed_within(socket, 2) == CLOSE_CODE


# --- The hook ----------------------------------------------------------------------


def test_the_expiry_hooks_in_order():
    """get_expires_at() on the class, then auth.expires_at, then an `exp` claim."""
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    epoch = moment.timestamp()

    class WithHook:
        def get_expires_at(self, user, auth):
            return moment

    assert expires_at_of(WithHook(), None, {"exp": 1}) == moment
    assert expires_at_of(object(), None, SimpleNamespace(expires_at=epoch)) == moment
    naive = SimpleNamespace(expires_at=moment.replace(tzinfo=None))
    assert expires_at_of(object(), None, naive) == moment
    simplejwt_like = SimpleNamespace(payload={"exp": epoch, "user_id": 1})
    assert expires_at_of(object(), None, simplejwt_like) == moment
    assert expires_at_of(object(), None, {"exp": epoch}) == moment
    assert expires_at_of(TokenAuthentication(), None, SimpleNamespace(key="k")) is None
    assert expires_at_of(object(), None, None) is None
    with pytest.raises(TypeError, match=r"expiry\.py"):
        expires_at_of(object(), None, {"exp": "tomorrow"})


# --- The AsyncAPI document ---------------------------------------------------------

REAUTHENTICATE = {
    "stream": "reauthenticate",
    "payload": {"authorization": "Bearer abc"},
    "request_id": "re-1",
}
REAUTHENTICATED = {
    "type": "response",
    "stream": "reauthenticate",
    "action": None,
    "request_id": "re-1",
    "status": 200,
    "data": {"expires_at": "2030-01-01T00:00:00Z"},
}


def check_frames(*frames):
    transcript = Transcript()
    transcript.record("open", "ws://testserver/ws/")
    for direction, frame in frames:
        transcript.record(direction, json.dumps(frame))
    return FrameChecker(build_document(expiring.registry)).check([transcript])


def test_the_document_describes_reauthenticate_and_its_answers():
    """The exchange checks against the document; a wrong answer or request does not."""
    report = check_frames(("send", REAUTHENTICATE), ("receive", REAUTHENTICATED))
    assert (report.checked, report.problems) == (2, [])
    never = {**REAUTHENTICATED, "data": {"expires_at": None}}
    assert check_frames(("receive", never)).problems == []
    wrong_answer = {**REAUTHENTICATED, "data": {"user": 1}}
    assert len(check_frames(("receive", wrong_answer)).problems) == 1
    no_authorization = {**REAUTHENTICATE, "payload": {}}
    sent = check_frames(("send", no_authorization), ("receive", REAUTHENTICATED))
    assert len(sent.problems) == 1


def test_a_stream_cannot_be_named_reauthenticate():
    """Its frames would be taken for the socket's own: refused at registration."""

    class Named(expiring.BearerWhoAmIConsumer):
        stream = "reauthenticate"

    with pytest.raises(ImproperlyConfigured, match="another `stream`"):
        Registry().register(Named)
