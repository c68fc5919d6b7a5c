"""A small JWT-like authentication class: `SignedExpiringToken`.

It accepts `Authorization: Bearer <token>`, where the token is a signed
`{"sub": <user pk>, "exp": <epoch seconds>}` (Django's signing, as a JWT
would be signed): `request.auth` is those claims, so the socket reads their
`exp` (realtime_api/auth/expiry.py) as it would read a JWT's. Like simplejwt, it
refuses a token past its `exp` (401). Imports nothing of realtime_api: DRF
imports it while its own views load.
"""

import time

from django.contrib.auth import get_user_model
from django.core import signing
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

SALT = "tests.realtime.expiring"


def issue(user, seconds):
    """A token for `user` that expires `seconds` from now (negative: past)."""
    claims = {"sub": user.pk, "exp": time.time() + seconds}
    return signing.dumps(claims, salt=SALT)


def bearer(user, seconds):
    return f"Bearer {issue(user, seconds)}"


class SignedExpiringToken(BaseAuthentication):
    """`Authorization: Bearer <signed claims>`, valid until the claims' `exp`."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Bearer header.")
        try:
            claims = signing.loads(parts[1].decode("latin-1"), salt=SALT)
        except signing.BadSignature:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if claims["exp"] <= time.time():
            raise exceptions.AuthenticationFailed("Token expired.")
        user = get_user_model().objects.filter(pk=claims["sub"]).first()
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("No such user.")
        return user, claims

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
