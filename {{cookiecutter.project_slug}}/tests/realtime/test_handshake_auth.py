"""Handshakes authenticated by an Authorization header (PROTOCOL.md, Endpoint)."""

from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from realtime_api.testing import AuthWebsocketCommunicator, create_token, create_user

from .whoami import BearerAuthentication, application, username

pytestmark = pytest.mark.django_db(transaction=True)


def token_socket(key, scheme="Token", user=None, origin=None, path="/ws/"):
    """A socket whose handshake carries `Authorization: <scheme> <key>`.

    It also sends the session cookie of `user` (anonymous when None), which
    the header must win over, and no Origin unless given.
    """
    header = (b"authorization", f"{scheme} {key}".encode())
    return AuthWebsocketCommunicator(
        application, path, user=user, headers=[header], origin=origin
    )


async def refused(socket):
    """Whether the handshake was refused (HTTP 403 from a real server)."""
    await socket
    connected, _ = await socket.connect()
    await socket.disconnect()
    return not connected


async def test_a_token_authenticates_the_socket_without_an_origin(user):
    """`Authorization: Token <key>` with no Origin: every request runs as its user."""
    key = await create_token(user)
    async with token_socket(key) as socket:
        assert await username(socket) == user.username


async def test_the_header_wins_over_a_session_cookie(user):
    """A cookie next to the header is ignored: the token's user, not the cookie's."""
    other = await create_user()
    key = await create_token(user)
    async with token_socket(key, user=other, origin="http://localhost") as socket:
        assert await username(socket) == user.username


@pytest.mark.parametrize(
    "header",
    [
        "Token not-a-real-key",  # unknown
        "Token",  # no key
        "Token two words",  # malformed
        "Scheme-nobody-reads something",  # no class accepts it
        "",  # empty
    ],
)
async def test_a_header_nobody_accepts_refuses_the_handshake(user, header):
    """A wrong token is refused, not taken as anonymous (or as the cookie's user)."""
    socket = AuthWebsocketCommunicator(
        application, "/ws/", user=user, headers=[(b"authorization", header.encode())]
    )
    assert await refused(socket)


async def test_a_revoked_token_or_an_inactive_user_is_refused(user):
    """A deleted token, or one of a deactivated user, opens nothing."""
    key = await create_token(user)
    await Token.objects.filter(key=key).adelete()
    assert await refused(token_socket(key))
    other = await create_user()
    other_key = await create_token(other)
    other.is_active = False
    await other.asave()
    assert await refused(token_socket(other_key))


async def test_basic_authentication_works_as_over_http(user):
    """Every DRF class of the settings counts: Basic too (no Origin needed)."""
    import base64

    credentials = base64.b64encode(f"{user.username}:pw".encode()).decode()
    async with token_socket(credentials, scheme="Basic") as socket:
        assert await username(socket) == user.username
    wrong = base64.b64encode(f"{user.username}:nope".encode()).decode()
    assert await refused(token_socket(wrong, scheme="Basic"))


@override_settings(ROOT_URLCONF="tests.realtime.whoami")
async def test_requests_see_the_user_and_auth_exactly_as_over_http(user):
    """request.user and request.auth on the socket are those of HTTP with the header."""
    key = await create_token(user)

    @database_sync_to_async
    def over_http(stream):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client.get(f"/{stream}/").json()

    async with token_socket(key) as socket:
        for stream in ("whoami", "token-only", "with-bearer"):
            response = await socket.request(stream, "list")
            assert response["data"] == await over_http(stream)
            assert response["data"] == {"username": user.username, "auth": "Token"}


async def test_a_session_is_anonymous_where_the_view_reads_tokens_only(user):
    """A view without SessionAuthentication sees no user on a cookie socket."""
    async with AuthWebsocketCommunicator(application, "/ws/", user=user) as socket:
        assert await username(socket) == user.username
        assert await username(socket, "token-only") is None


async def test_the_token_is_read_once_per_socket_not_once_per_frame(user):
    """Where the view reads headers as the handshake did, the token lookup is reused.

    A view with other authentication classes reads the header itself, on
    every request, as it would over HTTP.
    """
    key = await create_token(user)
    lookups = mock.patch.object(
        TokenAuthentication,
        "authenticate_credentials",
        autospec=True,
        side_effect=TokenAuthentication.authenticate_credentials,
    )
    with lookups as counted:
        async with token_socket(key) as socket:
            assert counted.call_count == 1  # The handshake.
            for _ in range(3):
                assert await username(socket) == user.username
            assert counted.call_count == 1
            for _ in range(3):
                assert await username(socket, "token-only") == user.username
            assert counted.call_count == 4


BEARER_SETTINGS = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        *settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        "tests.realtime.whoami.BearerAuthentication",
    ],
}


async def test_a_bearer_scheme_added_to_the_settings_authenticates_sockets(user):
    """`Authorization: Bearer <key>` works once its class is in the settings."""
    key = await create_token(user)
    assert await refused(token_socket(key, scheme="Bearer"))
    with override_settings(REST_FRAMEWORK=BEARER_SETTINGS):
        async with token_socket(key, scheme="Bearer") as socket:
            assert await username(socket, "with-bearer") == user.username
            # A view that does not read Bearer headers sees nobody, as over HTTP.
            assert await username(socket, "whoami") is None
        assert await refused(token_socket("wrong", scheme="Bearer"))
    assert BearerAuthentication.keyword == "Bearer"


@pytest.mark.parametrize(
    "origin", [None, "http://evil.example.com"], ids=["no Origin", "foreign Origin"]
)
async def test_a_session_cookie_still_needs_an_allowed_origin(user, origin):
    """Without a header, the Origin check stands for CSRF protection, as before."""
    socket = AuthWebsocketCommunicator(application, "/ws/", user=user, origin=origin)
    assert await refused(socket)
    async with AuthWebsocketCommunicator(application, "/ws/", user=user) as allowed:
        assert await username(allowed) == user.username
