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

from realtime_api.auth import handshake as auth
from realtime_api.limits.handshake_guard import HandshakeGuard
from realtime_api.limits.password_failures import PasswordFailures
from realtime_api.testing import AuthWebsocketCommunicator, create_token

from .test_handshake_auth import refused
from .whoami import application as whoami
from .whoami import username

pytestmark = pytest.mark.django_db(transaction=True)

guarded = HandshakeGuard(whoami, [path("ws/", whoami)])


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
