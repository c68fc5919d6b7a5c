"""The Origin check of cookie and ticket handshakes (realtime_api/auth/origins.py)."""

import pytest

from realtime_api.auth.origins import matches_any, origin_accepted


def scope(scheme, origin, host="testserver"):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "path": "/ws/", "headers": headers}


@pytest.mark.parametrize(
    ("scheme", "origin", "accepted"),
    [
        ("ws", "http://testserver", True),
        ("ws", "https://testserver", False),
        ("wss", "https://testserver", True),  # A TLS socket is an https request.
        ("wss", "http://testserver", False),
        ("ws", None, False),
    ],
)
def test_the_socket_scheme_is_the_request_scheme(scheme, origin, accepted):
    """ws is http and wss is https, as Django's check reads the request."""
    assert origin_accepted(scope(scheme, origin)) is accepted


def test_a_host_outside_allowed_hosts_has_no_own_origin(settings):
    """As over HTTP: only CSRF_TRUSTED_ORIGINS then (no DisallowedHost escapes)."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    assert not origin_accepted(scope("ws", "http://evil.example", "evil.example"))
    assert origin_accepted(scope("ws", "https://app.example.com", "evil.example"))


@pytest.mark.parametrize(
    ("origin", "matched"),
    [
        ("https://app.example.com", True),
        ("https://app.example.com:444", False),
        ("http://app.example.com", False),
        ("https://a.sub.example", True),
        ("https://sub.example", True),
        ("https://sub.example.evil", False),
        ("https://x.dot.example", True),
        ("http://x.dot.example", False),
        ("null", False),
    ],
)
def test_ticket_origins_read_as_csrf_trusted_origins(origin, matched):
    """Exact origins, and wildcard subdomains ("*." or Channels' older ".")."""
    patterns = [
        "https://app.example.com",
        "https://*.sub.example",
        "https://.dot.example",
    ]
    assert matches_any(origin, patterns) is matched


def test_ticket_origins_without_a_scheme_fail_the_checks(settings):
    """manage.py check refuses "app.example.com": it would never match."""
    from realtime_api.apps import check_ticket_origins

    settings.REALTIME_API_ALLOWED_ORIGINS = ["https://ok.example", "app.example.com"]
    assert [error.id for error in check_ticket_origins(None)] == ["realtime_api.E005"]
    settings.REALTIME_API_ALLOWED_ORIGINS = ["https://*.example.com"]
    assert check_ticket_origins(None) == []
