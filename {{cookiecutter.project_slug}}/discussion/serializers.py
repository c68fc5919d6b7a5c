from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import COMMENT_TEXT_MAX_LENGTH, Comment, Topic


@extend_schema_field(OpenApiTypes.BOOL)  # For the OpenAPI and AsyncAPI schemas.
class CanEditField(serializers.ReadOnlyField):
    """True when the requesting user may change the object: its owner or author.

    Rendered for each user, over HTTP and in each user's events alike: the
    demo page shows Edit and Delete from it.
    """

    def __init__(self, owner_field, **kwargs):
        super().__init__(source="*", **kwargs)
        self.owner_field = owner_field

    def to_representation(self, obj):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        owner_id = getattr(obj, f"{self.owner_field}_id")
        return bool(user and user.is_authenticated and owner_id == user.pk)


class TopicSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")
    can_edit = CanEditField("owner")

    class Meta:
        model = Topic
        fields = ["id", "title", "owner", "is_private", "closed", "created", "can_edit"]
        # Closing is the `close` action's job (its owner only), not an edit's.
        read_only_fields = ["closed", "created"]


class VisibleTopicField(serializers.PrimaryKeyRelatedField):
    """A topic pk, accepted only when the requesting user may see the topic.

    A topic the user cannot see gets the same error as one that does not
    exist, so the API does not reveal which private topics exist.
    """

    def get_queryset(self):
        request = self.context.get("request")
        return Topic.objects.visible_to(getattr(request, "user", None))


class CommentSerializer(serializers.ModelSerializer):
    topic = VisibleTopicField()
    author = serializers.ReadOnlyField(source="author.username")
    can_edit = CanEditField("author")
    text = serializers.CharField(
        min_length=1,
        max_length=COMMENT_TEXT_MAX_LENGTH,
        style={"base_template": "textarea.html"},
    )

    class Meta:
        model = Comment
        fields = ["id", "topic", "author", "text", "created", "updated", "can_edit"]
        read_only_fields = ["created", "updated"]

    def validate_topic(self, topic):
        """A closed topic takes no new comments, nor comments moved into it."""
        moved_in = self.instance is None or self.instance.topic_id != topic.pk
        if topic.closed and moved_in:
            raise serializers.ValidationError(
                "This topic is closed: it takes no new comments."
            )
        return topic
