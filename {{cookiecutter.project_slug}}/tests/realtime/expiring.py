"""A socket whose view reads SignedExpiringToken (expiring_token.py) too."""

from channels.routing import URLRouter
from django.conf import settings
from django.urls import path

from realtime_api.auth.handshake import RealtimeAuthMiddlewareStack
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry

from .expiring_token import SignedExpiringToken, bearer, issue
from .testapp.streams import FolderStream
from .testapp.views import FolderViewSet
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


class BearerOnlyView(WhoAmIView):
    """Reads Bearer tokens only: a request re-reads the socket's header."""

    authentication_classes = [SignedExpiringToken]


class BearerOnlyConsumer(Endpoint):
    view = BearerOnlyView
    stream = "bearer-only"


class BearerFolderViewSet(FolderViewSet):
    """The test app's folders, for a view that reads Bearer tokens too."""

    authentication_classes = [
        *FolderViewSet.authentication_classes,
        SignedExpiringToken,
    ]


class BearerFolderStream(FolderStream):
    view = BearerFolderViewSet
    stream = "bearer-folders"
    presence = False


registry = Registry()
registry.register(BearerWhoAmIConsumer, BearerOnlyConsumer, BearerFolderStream)

application = RealtimeAuthMiddlewareStack(
    URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=registry))])
)
