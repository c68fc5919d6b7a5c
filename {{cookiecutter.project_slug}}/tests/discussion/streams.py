"""Test-only streams, served by a test-only socket (not by config.asgi).

Each needs something the sample app does not have: a narrowed
`allowed_actions`, a read-only view, a throttle, a view that fails, a
subscription mapping that shadows a serializer field. None broadcasts on
save (`immediate_broadcast = False`), so they do not touch other tests.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path
from rest_framework import permissions, viewsets
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from discussion.serializers import TopicSerializer
from discussion.views import TopicViewSet
from realtime_api.consumers import APIDemultiplexer, Endpoint, Registry


class QuietConsumer(Endpoint):
    immediate_broadcast = False


class ListOnlyConsumer(QuietConsumer):
    """Topics, narrowed to `list` and `retrieve`."""

    view = TopicViewSet
    stream = "list-only"
    allowed_actions = ["list", "retrieve"]


class ReadOnlyTopicViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = TopicViewSet.queryset
    serializer_class = TopicSerializer


class ReadOnlyConsumer(QuietConsumer):
    """Topics through a ReadOnlyModelViewSet: no create, update or delete."""

    view = ReadOnlyTopicViewSet
    stream = "read-only"


class TwoPerMinuteAnon(AnonRateThrottle):
    rate = "2/min"


class TwoPerMinuteUser(UserRateThrottle):
    rate = "2/min"


class ThrottledTopicViewSet(TopicViewSet):
    throttle_classes = [TwoPerMinuteAnon, TwoPerMinuteUser]


class ThrottledConsumer(QuietConsumer):
    view = ThrottledTopicViewSet
    stream = "throttled"


class FailingTopicViewSet(TopicViewSet):
    def list(self, request, *args, **kwargs):
        raise RuntimeError("secret detail of a bug")


class FailingConsumer(QuietConsumer):
    """Topics whose `list` raises an unexpected exception."""

    view = FailingTopicViewSet
    stream = "failing"


class MembersOnlyTopicViewSet(TopicViewSet):
    permission_classes = [permissions.IsAuthenticated]


class MembersOnlyConsumer(QuietConsumer):
    """Topics for authenticated users only, reading included."""

    view = MembersOnlyTopicViewSet
    stream = "members-only"


class TitleSuffixConsumer(QuietConsumer):
    """Topics where the subscription key `title` means "title ends with"."""

    view = TopicViewSet
    stream = "title-suffix"
    subscription_field_mapping = {"title": "title__iendswith"}


# A registry and socket of their own, so the streams below stay out of /ws/.
extra_registry = Registry()
extra_registry.register(
    ListOnlyConsumer,
    ReadOnlyConsumer,
    ThrottledConsumer,
    FailingConsumer,
    MembersOnlyConsumer,
    TitleSuffixConsumer,
)

extra_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(
        URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=extra_registry))])
    )
)
