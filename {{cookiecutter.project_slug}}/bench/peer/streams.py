"""Our side of the comparison: the peer's viewset as the stream `peer-comments`.

The endpoint adds what DCRF's `model_observer` example adds: one group per
topic, so that `subscribe {"topic": 3}` hears of comments created later.
bench/settings.py serves `registry`: the project's streams and this one.
"""

from config.realtime import registry as project_registry
from realtime_api.api import Endpoint, Registry

from .names import STREAM
from .views import StreamCommentViewSet


def topic_group(topic):
    return f"{STREAM}-topic-{topic}"


class StreamCommentStream(Endpoint):
    """Comments of the peer's shape; `{"topic": 3}` follows topic 3."""

    view = StreamCommentViewSet
    stream = STREAM

    def get_group_names(self, comment):
        """A comment's own group, and its topic's."""
        return [*super().get_group_names(comment), topic_group(comment.topic)]

    def get_subscription_groups(self, subscription):
        """`{"topic": 3}` joins the topic's group; other filters, matched comments'."""
        if subscription.keys() == {"topic"}:
            topics = subscription.data["topic"]
            topics = topics if isinstance(topics, list) else [topics]
            return {topic_group(topic) for topic in topics}
        return super().get_subscription_groups(subscription)


# The project's streams (the sample's, for the comparison's first column),
# plus the peer's. A registry of its own: config/realtime.py stays untouched.
registry = Registry()
registry.register(
    *(adapter.endpoint_class for adapter in project_registry), StreamCommentStream
)
