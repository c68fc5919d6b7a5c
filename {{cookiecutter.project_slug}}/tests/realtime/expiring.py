"""A small JWT-like authentication class, and a socket that reads it.

`SignedExpiringToken` accepts `Authorization: Bearer <token>`, where the
token is a signed `{"sub": <user pk>, "exp": <epoch seconds>}` (Django's
signing, as a JWT would be signed): `request.auth` is those claims, so the
socket reads its `exp` (realtime_api/expiry.py) as it would read a JWT's.
Like simplejwt, it refuses a token past its `exp` (401).
"""

import time

from channels.routing import URLRouter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import path
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from realtime_api.auth import RealtimeAuthMiddlewareStack
from realtime_api.consumers import APIDemultiplexer, Endpoint, Registry

from .whoami import WhoAmIView

SALT = "tests.realtime.expiring"
CLASS_PATH = "tests.realtime.expiring.SignedExpiringToken"
# The settings of a project that adds the class (override_settings, or the
# daphne process's expiring_settings.py).
REST_FRAMEWORK = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        *settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        CLASS_PATH,
    ],
}


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


class BearerWhoAmIView(WhoAmIView):
    """Who the request runs as, for a view that reads Bearer tokens too."""

    authentication_classes = [*WhoAmIView.authentication_classes, SignedExpiringToken]


class BearerWhoAmIConsumer(Endpoint):
    view = BearerWhoAmIView
    stream = "bearer-whoami"


registry = Registry()
registry.register(BearerWhoAmIConsumer)

application = RealtimeAuthMiddlewareStack(
    URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=registry))])
)
