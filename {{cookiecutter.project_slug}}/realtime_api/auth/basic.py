"""HTTP Basic over HTTP, counted against the address's wrong passwords.

A socket's Basic handshake spends its address's allowance of wrong passwords
(limits/password_failures.py): past it, 429 before any hash. Over HTTP the
same password went to DRF's BasicAuthentication, which hashed every one:
the API was a way around the limit, and a PBKDF2 per request for anyone.
`CountedBasicAuthentication` (DEFAULT_AUTHENTICATION_CLASSES) checks and
counts HTTP requests against the same per-address allowance: past it,
429 with Retry-After (DRF's Throttled), unhashed; a wrong password counts
as on the socket. A socket's handshake, whose pool counts already, is
checked as by DRF's class.

The counters are per process, taken from the event loop and from the
request threads alike: a race may miscount one password, never more.
"""

from drf_spectacular.authentication import BasicScheme
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication

from realtime_api.limits.password_failures import failures


def address_scope(request):
    """What password_failures reads of a socket's scope, for an HTTP request."""
    meta = request.META
    headers = [(b"authorization", meta.get("HTTP_AUTHORIZATION", "").encode("latin-1"))]
    for meta_name, header in (
        ("HTTP_X_REAL_IP", b"x-real-ip"),
        ("HTTP_X_FORWARDED_FOR", b"x-forwarded-for"),
    ):
        if meta_name in meta:
            headers.append((header, meta[meta_name].encode("latin-1")))
    return {"client": (meta.get("REMOTE_ADDR") or "unknown", 0), "headers": headers}


class CountedBasicAuthentication(BasicAuthentication):
    """DRF's BasicAuthentication, bounded by the wrong passwords per address."""

    def authenticate(self, request):
        if getattr(request._request, "realtime_socket", False):
            return super().authenticate(request)  # The auth pool counts.
        scope = address_scope(request)
        refusal = failures.refusal(scope)
        if refusal is not None:
            raise exceptions.Throttled(refusal.retry_after, refusal.detail)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            failures.failed(scope)
            raise


class CountedBasicScheme(BasicScheme):
    """The OpenAPI schema names it `basicAuth`, as DRF's own class."""

    target_class = "realtime_api.auth.basic.CountedBasicAuthentication"
