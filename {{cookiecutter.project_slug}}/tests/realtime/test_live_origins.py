"""Origins as strict as CSRF (PROTOCOL.md, "Origins (v1.2)"), through real daphne.

A browser sends the session cookie with any page's WebSocket handshake, so a
cookie (or ticket) handshake must come from an Origin Django's CSRF check
accepts for an unsafe HTTP request. The oracle is that check over HTTP: a
POST to the ticket endpoint (session-authenticated, so CSRF-checked, with a
valid CSRF token) with the same Host, Origin and proxy headers.
"""

import asyncio
import http.client
import json
import os
import random
import socket
import string

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from realtime_api.testing import create_session

pytestmark = pytest.mark.django_db(transaction=True)

# The project behind a TLS proxy: SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST
# and CSRF_TRUSTED_ORIGINS (exact and wildcard) set.
BEHIND_PROXY = {"DJANGO_SETTINGS_MODULE": "tests.realtime.origins_settings"}
# A valid CSRF secret for the oracle's POSTs: only the Origin may fail them.
CSRF_SECRET = "".join(random.choices(string.ascii_letters + string.digits, k=32))
# More cases for the randomized test: REALTIME_ORIGINS_CASES=2000.
CASES = int(os.environ.get("REALTIME_ORIGINS_CASES", "40"))


def http_verdict(server, session_key, host, origin, extra=None):
    """Django's CSRF answer to a POST from `origin`: (accepted, ticket or None)."""
    headers = {
        "Host": host,
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={CSRF_SECRET}",
        "X-CSRFToken": CSRF_SECRET,
        **(extra or {}),
    }
    if origin is not None:
        headers["Origin"] = origin
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", "/api/realtime/ticket/", headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    if response.status == 201:
        return True, json.loads(body)["ticket"]
    assert response.status == 403, (response.status, body)
    assert "Origin checking failed" in body, body
    return False, None


async def handshake(server, host, origin, extra=None, session_key=None, ticket=None):
    """Does a WebSocket handshake with this Host and Origin open (else 403)?"""
    headers = dict(extra or {})
    if session_key is not None:
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    path = "/ws/" + (f"?ticket={ticket}" if ticket is not None else "")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setblocking(False)
    try:
        # The URL gives the Host header; the socket goes to the server.
        async with websockets.connect(
            f"ws://{host}{path}",
            sock=sock,
            origin=origin,
            additional_headers=headers,
            open_timeout=10,
        ):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403, refused.response
        return False


async def mint_ticket(server, session_key):
    """A ticket bought from the server's own page (an Origin CSRF accepts)."""
    own = f"127.0.0.1:{server.port}"
    accepted, ticket = await asyncio.to_thread(
        http_verdict, server, session_key, own, f"http://{own}"
    )
    assert accepted
    return ticket


@pytest.mark.parametrize("allowed_hosts", ["", "*"], ids=["default hosts", "hosts *"])
async def test_sockets_open_only_from_origins_csrf_accepts(
    daphne_servers, user, allowed_hosts
):
    """Other port, other scheme, other host, "null" or no Origin: 403, as HTTP's 403.

    The server's own origin opens; ALLOWED_HOSTS = ["*"] widens nothing.
    """
    env = {"DJANGO_ALLOWED_HOSTS": allowed_hosts} if allowed_hosts else {}
    server = daphne_servers(env=env)
    session_key = await database_sync_to_async(create_session)(user)
    host = f"127.0.0.1:{server.port}"
    cases = {
        f"http://{host}": True,
        "http://127.0.0.1:1": False,
        "https://127.0.0.1": False,
        f"https://{host}": False,
        "http://127.0.0.1": False,
        f"http://localhost:{server.port}": False,
        "http://evil.example": False,
        "null": False,
        None: False,
    }
    for origin, expected in cases.items():
        if origin is not None:  # Without an Origin, HTTP falls back on the token.
            verdict, _ = await asyncio.to_thread(
                http_verdict, server, session_key, host, origin
            )
            assert verdict is expected, f"HTTP, Origin {origin}"
        cookie = await handshake(server, host, origin, session_key=session_key)
        assert cookie is expected, f"cookie socket, Origin {origin}"
        ticket = await mint_ticket(server, session_key)
        by_ticket = await handshake(server, host, origin, ticket=ticket)
        assert by_ticket is expected, f"ticket socket, Origin {origin}"


@pytest.mark.parametrize(
    "allowed_hosts",
    ["127.0.0.1,localhost,api.example.com,.wild.example", "*"],
    ids=["listed hosts", "hosts *"],
)
async def test_random_handshakes_answer_as_django_csrf_check(
    daphne_servers, user, allowed_hosts
):
    """Random Host, proxy headers and Origin: the socket answers as HTTP's CSRF check.

    Behind a proxy (X-Forwarded-Proto, X-Forwarded-Host), with trusted origins
    exact and wildcard: a cookie and a ticket handshake open exactly when a
    POST with the same headers passes the Origin check.
    """
    server = daphne_servers(env={**BEHIND_PROXY, "DJANGO_ALLOWED_HOSTS": allowed_hosts})
    session_key = await database_sync_to_async(create_session)(user)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    hosts = [
        f"127.0.0.1:{server.port}",
        "localhost",
        "api.example.com",
        "api.example.com:8443",
        "x.wild.example",
    ]
    if allowed_hosts == "*":
        hosts += ["evil.example", "trusted.example.evil"]
    origin_hosts = [
        *hosts,
        "trusted.example",
        "plain.example:8080",
        "plain.example",
        "a.wild.example",
        "a.b.wild.example:444",
        "wild.example",
        "wild.example.evil",
        "127.0.0.1:1",
    ]
    verdicts = []
    for case in range(CASES):
        host = rng.choice(hosts)
        extra = {}
        if rng.random() < 0.5:
            extra["X-Forwarded-Proto"] = rng.choice(["https", "http", "https, http"])
        if rng.random() < 0.3:
            extra["X-Forwarded-Host"] = rng.choice(hosts)
        if rng.random() < 0.4:
            # Likely the request's own origin (only to make acceptance common:
            # the verdict is Django's, over HTTP).
            scheme = extra.get("X-Forwarded-Proto", "http").split(",")[0]
            origin = f"{scheme}://{extra.get('X-Forwarded-Host', host)}"
        elif rng.random() < 0.05:
            origin = "null"
        else:
            scheme = rng.choice(["http", "https"])
            origin = f"{scheme}://{rng.choice(origin_hosts)}"
        expected, _ = await asyncio.to_thread(
            http_verdict, server, session_key, host, origin, extra
        )
        context = f"seed {seed} case {case}: Host {host}, Origin {origin}, {extra}"
        cookie = await handshake(server, host, origin, extra, session_key=session_key)
        assert cookie is expected, f"cookie socket, {context}"
        ticket = await mint_ticket(server, session_key)
        by_ticket = await handshake(server, host, origin, extra, ticket=ticket)
        assert by_ticket is expected, f"ticket socket, {context}"
        verdicts.append(expected)
    assert True in verdicts and False in verdicts, f"seed {seed}: one-sided cases"
