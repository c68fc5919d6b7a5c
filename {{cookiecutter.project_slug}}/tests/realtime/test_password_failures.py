"""Wrong Basic passwords per address: past the limit, refused before any hash.

A wrong password costs a PBKDF2 whoever sends it; one address may get
REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS of them wrong, forgiven one by one
over REALTIME_API_PASSWORD_FAILURE_SECONDS, then its Basic handshakes are
refused (429 on a real server: test_live_handshake_rate.py) unhashed.
"""

import base64
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.authentication import BasicAuthentication
from rest_framework.authtoken.models import Token

from realtime_api.auth import handshake as auth
from realtime_api.limits.handshake_guard import HandshakeGuard
from realtime_api.limits.password_failures import PasswordFailures, failures
from realtime_api.testing import AuthWebsocketCommunicator, create_token

from .test_handshake_auth import refused
from .whoami import application as whoami
from .whoami import username

pytestmark = pytest.mark.django_db(transaction=True)

guarded = HandshakeGuard(whoami, [path("ws/", whoami)])
HTTP_URL = "/api/folders/"


def basic_socket(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    header = (b"authorization", f"Basic {token}".encode())
    return AuthWebsocketCommunicator(guarded, "/ws/", headers=[header])


@override_settings(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=3)
async def test_past_its_wrong_passwords_an_address_is_refused_unhashed(user):
    """3 wrong passwords are checked; the 4th, even a right one, is not."""
    checks = mock.Mock(wraps=auth.authenticate_header)
    with mock.patch.object(auth, "authenticate_header", checks):
        for _ in range(3):
            assert await refused(basic_socket(user.username, "wrong"))
        assert checks.call_count == 3
        assert await refused(basic_socket(user.username, "wrong"))
        assert await refused(basic_socket(user.username, "pw"))
        assert checks.call_count == 3  # Refused before the hash.
        # A token is no password: it is still checked, and opens.
        key = await create_token(user)
        header = (b"authorization", f"Token {key}".encode())
        socket = AuthWebsocketCommunicator(guarded, "/ws/", headers=[header])
        async with socket:
            assert await username(socket) == user.username


@override_settings(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=0)
async def test_without_a_limit_every_password_is_checked(user):
    """REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=0 turns the limit off."""
    checks = mock.Mock(wraps=auth.authenticate_header)
    with mock.patch.object(auth, "authenticate_header", checks):
        for _ in range(12):
            assert await refused(basic_socket(user.username, "wrong"))
    assert checks.call_count == 12


def basic_scope(peer):
    return {"client": (peer, 5000), "headers": [(b"authorization", b"Basic eDp5")]}


@override_settings(
    REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=2,
    REALTIME_API_PASSWORD_FAILURE_SECONDS=10,
)
def test_wrong_passwords_are_forgiven_one_by_one_per_address():
    """2 failures in 10 s: then 5 s until one more try, another address unaffected."""
    now = [0.0]
    failures = PasswordFailures(clock=lambda: now[0])
    attacker, other = basic_scope("203.0.113.9"), basic_scope("198.51.100.7")
    for _ in range(2):
        assert failures.refusal(attacker) is None
        failures.failed(attacker)
    refusal = failures.refusal(attacker)
    assert (refusal.status, refusal.retry_after) == (429, 5)
    assert "REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS" in refusal.detail
    assert failures.refusal(other) is None
    now[0] = 5.0
    assert failures.refusal(attacker) is None  # One forgiven.
    failures.failed(attacker)
    assert failures.refusal(attacker) is not None
    cookie = {"client": ("203.0.113.9", 5000), "headers": []}
    assert failures.refusal(cookie) is None  # No password, nothing to refuse.


def http_basic(username, password):
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def hashes(monkeypatch):
    """Counts the passwords DRF's BasicAuthentication checks."""
    checks = mock.Mock(wraps=BasicAuthentication.authenticate_credentials)

    def counted(self, *args, **kwargs):
        return checks(self, *args, **kwargs)

    monkeypatch.setattr(BasicAuthentication, "authenticate_credentials", counted)
    return checks


@override_settings(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=3)
def test_http_wrong_passwords_spend_the_same_allowance(client, user, hashes):
    """HTTP is no way around the socket's limit: 3 wrong, then 429 unhashed."""
    for _ in range(3):
        answer = client.get(HTTP_URL, **http_basic(user.username, "wrong"))
        assert answer.status_code in (401, 403)
    answer = client.get(HTTP_URL, **http_basic(user.username, "pw"))
    assert answer.status_code == 429 and int(answer["Retry-After"]) >= 1
    assert "REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS" in answer.json()["detail"]
    assert hashes.call_count == 3
    # The socket's guard reads the same allowance for that address.
    assert failures.refusal(basic_scope("127.0.0.1")) is not None
    assert failures.refusal(basic_scope("198.51.100.7")) is None
    token = Token.objects.create(user=user)
    answer = client.get(HTTP_URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert answer.status_code == 200  # Another scheme: not refused.


@override_settings(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=2)
def test_socket_wrong_passwords_are_429_over_http_too(client, user, hashes):
    for _ in range(2):
        failures.failed(basic_scope("127.0.0.1"))
    answer = client.get(HTTP_URL, **http_basic(user.username, "pw"))
    assert answer.status_code == 429
    assert hashes.call_count == 0


@override_settings(REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS=0)
def test_without_a_limit_http_passwords_are_all_checked(client, user, hashes):
    for _ in range(12):
        answer = client.get(HTTP_URL, **http_basic(user.username, "wrong"))
        assert answer.status_code in (401, 403)
    assert client.get(HTTP_URL, **http_basic(user.username, "pw")).status_code == 200
    assert hashes.call_count == 13


def test_the_schema_still_names_basic_auth(client):
    """drf-spectacular documents the counted class as DRF's own: basicAuth."""
    schema = client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"}
    security = schema["paths"][HTTP_URL]["get"]["security"]  # The defaults'.
    assert {"basicAuth": []} in security, security
