"""The sample app's WebSocket streams: `topics` and `comments` on /ws/."""

from realtime_api.consumers import APIConsumer, APIDemultiplexer

from .models import Topic
from .views import CommentViewSet, TopicViewSet


class TopicConsumer(APIConsumer):
    """Topics; `subscribe {"is_private": false}` also hears of topics added later.

    So does `{"owner": "<your username>"}`, for all your topics, private ones
    included: the live demo page lists topics with these two subscriptions.
    """

    view = TopicViewSet
    stream = "topics"
    subscription_field_mapping = {"ids": "pk__in", "title": "title__istartswith"}

    def get_group_names(self, obj):
        """A topic is in its own group, its owner's, and "topics-public" if public."""
        groups = [*super().get_group_names(obj), self.owner_group(obj.owner_id)]
        if not obj.is_private:
            groups.append(self.public_group())
        return groups

    def get_subscription_groups(self, filter):
        """Add the public or the owner's group for exactly those two filters.

        Any filter joins the matching topics' own groups, so it hears when a
        topic it matched changes (into a private one, say). Only a user's own
        username opens their owner group: another user's would leak their
        private topics.
        """
        own_groups = super().get_group_names
        matched = self.get_subscription_queryset(filter)
        groups = {group for obj in matched for group in own_groups(obj)}
        if filter == {"is_private": False}:
            groups.add(self.public_group())
        user = self.request.user
        if user.is_authenticated and filter == {"owner__username": user.username}:
            groups.add(self.owner_group(user.pk))
        return groups

    def public_group(self):
        return f"{self.stream}-public"

    def owner_group(self, user_id):
        return f"{self.stream}-owner-{user_id}"


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
