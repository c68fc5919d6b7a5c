"""The peer's view: a plain ModelSerializer and ModelViewSet, nothing added."""

from rest_framework import permissions, serializers, viewsets

from .models import DcrfComment, StreamComment


class StreamCommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = StreamComment
        fields = ["id", "topic", "text", "created"]


class StreamCommentViewSet(viewsets.ModelViewSet):
    """Our stream's view: anyone may do anything, as in the peer's example."""

    queryset = StreamComment.objects.all()
    serializer_class = StreamCommentSerializer
    permission_classes = [permissions.AllowAny]


class DcrfCommentSerializer(serializers.ModelSerializer):
    """The same serializer over DCRF's table (dcrf.py)."""

    class Meta:
        model = DcrfComment
        fields = ["id", "topic", "text", "created"]
