"""A socket whose view reads SignedExpiringToken (expiring_token.py) too."""

from channels.routing import URLRouter
from django.conf import settings
from django.urls import path

from realtime_api.auth import RealtimeAuthMiddlewareStack
from realtime_api.consumers import APIDemultiplexer, Endpoint, Registry

from .expiring_token import SignedExpiringToken, bearer, issue
from .whoami import WhoAmIView

__all__ = ["SignedExpiringToken", "application", "bearer", "issue", "registry"]

CLASS_PATH = "tests.realtime.expiring_token.SignedExpiringToken"
# The settings of a project that adds the class (override_settings, or the
# daphne process's expiring_settings.py).
REST_FRAMEWORK = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        *settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        CLASS_PATH,
    ],
}


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
