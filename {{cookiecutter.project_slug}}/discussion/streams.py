"""The sample app's streams, `topics` and `comments` (see config/realtime.py)."""

from realtime_api.api import Endpoint

from .views import CommentViewSet, TopicViewSet


class TopicStream(Endpoint):
    """Topics; `{"is_private": false}` also hears of public topics added later.

    So does `{"owner": "<your username>"}`, for your own topics, private ones
    included: the live demo page's lists are built on these two. Users
    present on a topic appear by their full name, else their username.
    """

    view = TopicViewSet
    stream = "topics"
    # Who is reading a topic, and who is typing in it (the demo page shows
    # both): `topics/join/3/` is allowed to whoever may `retrieve` topic 3.
    presence = True
    subscription_field_mapping = {"ids": "pk__in", "title": "title__istartswith"}

    def get_presence_member(self, user):
        """A user as the others present see them: their full name, or username."""
        member = super().get_presence_member(user)
        if member is not None:
            member["name"] = user.get_full_name() or member["name"]
        return member

    def get_group_names(self, topic):
        """A topic's own group, its owner's, and "topics-public" while public."""
        groups = [*super().get_group_names(topic), f"topics-owner-{topic.owner_id}"]
        if not topic.is_private:
            groups.append("topics-public")
        return groups

    def get_subscription_groups(self, subscription):
        """The matched topics, and for those two filters the topics added later."""
        groups = set(super().get_subscription_groups(subscription))
        user = self.request.user
        if subscription.data == {"is_private": False}:
            groups.add("topics-public")
        elif user.is_authenticated and subscription.data == {"owner": user.username}:
            groups.add(f"topics-owner-{user.pk}")
        return groups


class CommentStream(Endpoint):
    """Comments; `{"topic": 3}` also hears of comments added to topic 3 later."""

    view = CommentViewSet
    stream = "comments"
    # A comment is visible when its topic is: when a topic's privacy or owner
    # changes, its comments leave (or enter) what each subscriber sees.
    visibility_depends_on = {"topic": ["is_private", "owner"]}

    def get_group_names(self, comment):
        """A comment's own group, and its topic's."""
        return [*super().get_group_names(comment), f"comments-topic-{comment.topic_id}"]

    def get_subscription_groups(self, subscription):
        """`{"topic": 3}` joins the topic's group; other filters, matched comments'."""
        if subscription.keys() == {"topic"}:
            # One topic or a list of them (the filter then reads `topic__in`).
            topics = subscription.data["topic"]
            topics = topics if isinstance(topics, list) else [topics]
            return {f"comments-topic-{topic.pk}" for topic in topics}
        return super().get_subscription_groups(subscription)
