from rest_framework import serializers

from .models import COMMENT_TEXT_MAX_LENGTH, Comment, Topic


class TopicSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")

    class Meta:
        model = Topic
        fields = ["id", "title", "owner", "is_private", "created"]
        read_only_fields = ["created"]


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
    text = serializers.CharField(
        min_length=1,
        max_length=COMMENT_TEXT_MAX_LENGTH,
        style={"base_template": "textarea.html"},
    )

    class Meta:
        model = Comment
        fields = ["id", "topic", "author", "text", "created", "updated"]
        read_only_fields = ["created", "updated"]
