"""Test-only streams, served by a test-only socket (not by config.asgi).

Each needs something the test app's main streams do not have: a narrowed
`allowed_actions`, a read-only view, a throttle, a view that fails, a
subscription mapping that shadows a serializer field, fields a reader cannot
read. None broadcasts on
save (`immediate_broadcast = False`), so they do not touch other tests.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path
from rest_framework import permissions, viewsets
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry

from .testapp.serializers import FolderSerializer, SealedFolderSerializer
from .testapp.views import FolderViewSet


class QuietConsumer(Endpoint):
    immediate_broadcast = False


class ListOnlyConsumer(QuietConsumer):
    """Folders, narrowed to `list` and `retrieve`."""

    view = FolderViewSet
    stream = "list-only"
    allowed_actions = ["list", "retrieve"]


class ReadOnlyFolderViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = FolderViewSet.queryset
    serializer_class = FolderSerializer


class ReadOnlyConsumer(QuietConsumer):
    """Folders through a ReadOnlyModelViewSet: no create, update or delete."""

    view = ReadOnlyFolderViewSet
    stream = "read-only"


class TwoPerMinuteAnon(AnonRateThrottle):
    rate = "2/min"


class TwoPerMinuteUser(UserRateThrottle):
    rate = "2/min"


class ThrottledFolderViewSet(FolderViewSet):
    throttle_classes = [TwoPerMinuteAnon, TwoPerMinuteUser]


class ThrottledConsumer(QuietConsumer):
    view = ThrottledFolderViewSet
    stream = "throttled"


class FailingFolderViewSet(FolderViewSet):
    def list(self, request, *args, **kwargs):
        raise RuntimeError("secret detail of a bug")


class FailingConsumer(QuietConsumer):
    """Folders whose `list` raises an unexpected exception."""

    view = FailingFolderViewSet
    stream = "failing"


class MembersOnlyFolderViewSet(FolderViewSet):
    permission_classes = [permissions.IsAuthenticated]


class MembersOnlyConsumer(QuietConsumer):
    """Folders for authenticated users only, reading included."""

    view = MembersOnlyFolderViewSet
    stream = "members-only"


class NameSuffixConsumer(QuietConsumer):
    """Folders where the subscription key `name` means "name ends with"."""

    view = FolderViewSet
    stream = "name-suffix"
    subscription_field_mapping = {"name": "name__iendswith"}


class SealedFolderViewSet(FolderViewSet):
    serializer_class = SealedFolderSerializer


class SealedConsumer(QuietConsumer):
    """Folders with a write-only `name` and an `is_private` for staff only."""

    view = SealedFolderViewSet
    stream = "sealed"


class SealedByNameConsumer(SealedConsumer):
    """The same, where the endpoint's author maps `name` (their choice)."""

    stream = "sealed-by-name"
    subscription_field_mapping = {"name": "name__iexact"}


# A registry and socket of their own, so the streams below stay out of /ws/.
extra_registry = Registry()
extra_registry.register(
    ListOnlyConsumer,
    ReadOnlyConsumer,
    ThrottledConsumer,
    FailingConsumer,
    MembersOnlyConsumer,
    NameSuffixConsumer,
    SealedConsumer,
    SealedByNameConsumer,
)

extra_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(
        URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=extra_registry))])
    )
)
