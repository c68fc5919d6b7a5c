"""The sample app's WebSocket streams: `topics` and `comments` on /ws/."""

from realtime_api.consumers import APIConsumer, APIDemultiplexer

from .models import Topic
from .views import CommentViewSet, TopicViewSet


class TopicConsumer(APIConsumer):
    view = TopicViewSet
    stream = "topics"
    subscription_field_mapping = {"ids": "pk__in", "title": "title__istartswith"}


class CommentConsumer(APIConsumer):
    """Comments; `subscribe {"topic": 3}` also hears of comments added later."""

    view = CommentViewSet
    stream = "comments"

    def get_group_names(self, obj):
        """A comment is in its own group and in its topic's group."""
        return [*super().get_group_names(obj), self.topic_group(obj.topic_id)]

    def get_subscription_groups(self, filter):
        """Subscribe to a whole topic when the filter is just a topic.

        Any other filter joins the matching comments' own groups only: the
        default would also join their topics' groups (get_group_names() above),
        so `{"id": 5}` would hear of every comment in comment 5's topic.
        """
        if set(filter) == {"topic"}:
            topics = Topic.objects.visible_to(self.request.user)
            topic_ids = topics.filter(pk=filter["topic"]).values_list("pk", flat=True)
            return {self.topic_group(pk) for pk in topic_ids}
        own_groups = super().get_group_names
        matched = self.get_subscription_queryset(filter)
        return {group for obj in matched for group in own_groups(obj)}

    def topic_group(self, topic_id):
        return f"{self.stream}-topic-{topic_id}"


APIDemultiplexer.register(TopicConsumer, CommentConsumer)
