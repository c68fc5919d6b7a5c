"""Which pages may open a socket with a cookie or a ticket: Django's CSRF check decides.

A browser sends the session cookie with any page's WebSocket handshake, so
the Origin is what stands for the CSRF token over a socket (cross-site
WebSocket hijacking). A handshake is accepted only from an Origin that
Django's CsrfViewMiddleware would accept for an unsafe HTTP request to the
same URL: the request's own scheme, host and port (Host, X-Forwarded-Host with
USE_X_FORWARDED_HOST, the scheme from SECURE_PROXY_SSL_HEADER, exactly as
over HTTP) or one of CSRF_TRUSTED_ORIGINS. A Host outside ALLOWED_HOSTS has
no "own" origin, and ALLOWED_HOSTS = ["*"] widens nothing: the Origin must
still equal the request's own. A handshake without an Origin is refused.

Tickets may also come from REALTIME_API_ALLOWED_ORIGINS: a ticket is no
ambient credential (the page holds it, after an authenticated POST that is
itself CSRF-checked), so a browser app on another site may use one without
that site being trusted for session-cookie POSTs over HTTP (which listing it
in CSRF_TRUSTED_ORIGINS would do).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import is_same_domain

from realtime_api import conf
from realtime_api.streams import request_factory


class CsrfOriginValidator:
    """Refuse (HTTP 403) a handshake whose Origin Django's CSRF check refuses.

    With `tickets`, REALTIME_API_ALLOWED_ORIGINS is accepted too.
    """

    def __init__(self, application, tickets=False):
        self.application = application
        self.tickets = tickets

    # Not `async`: it hands on the inner application's coroutine, so no frame
    # of its own is kept for each socket (BENCHMARKS.md, "An idle socket").
    _asgi_single_callable = True  # What asgiref asks of a plain __call__.

    def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_accepted(scope, self.tickets):
            return WebsocketDenier()(scope, receive, send)
        return self.application(scope, receive, send)


def origin_accepted(scope, tickets=False):
    """Would Django's CSRF check accept this handshake's Origin for a POST?"""
    request = request_factory.build_request(
        request_factory.http_scope(scope), "POST", scope.get("path", "/")
    )
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        return False
    # A new middleware per handshake: it caches CSRF_TRUSTED_ORIGINS, which
    # tests (and override_settings) change. Its own check, not a copy of it.
    if CsrfViewMiddleware(_no_response)._origin_verified(request):  # type: ignore[attr-defined]
        return True
    return tickets and matches_any(origin, conf.allowed_origins())


def matches_any(origin, patterns):
    """Does `origin` match one of `patterns`, read as CSRF_TRUSTED_ORIGINS are?

    "https://app.example.com" matches that origin only (scheme, host and
    port); "https://*.example.com" (or Channels' older "https://.example.com")
    matches example.com and its subdomains on https.
    """
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    for pattern in patterns:
        if pattern == origin:
            return True
        allowed = urlsplit(pattern)
        wildcard = allowed.netloc.startswith(("*", "."))
        if wildcard and allowed.scheme == parsed.scheme:
            if is_same_domain(parsed.netloc, allowed.netloc.lstrip("*")):
                return True
    return False


def _no_response(request):  # pragma: no cover - the middleware is never called
    raise AssertionError("only the Origin check of CsrfViewMiddleware is used")
