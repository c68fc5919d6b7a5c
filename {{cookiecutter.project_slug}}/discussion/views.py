from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, viewsets

from realtime_api.search import BoundedSearchFilter

from .filters import CommentFilter, StableOrderingFilter
from .models import Comment, Topic
from .pagination import DiscussionPagination
from .permissions import IsOwnerOrReadOnly
from .serializers import CommentSerializer, TopicSerializer


class TopicViewSet(viewsets.ModelViewSet):
    """Topics: public ones for everyone, private ones for their owner."""

    queryset = Topic.objects.select_related("owner")
    serializer_class = TopicSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    pagination_class = DiscussionPagination
    filter_backends = [DjangoFilterBackend, BoundedSearchFilter, StableOrderingFilter]
    owner_field = "owner"
    filterset_fields = ["is_private"]
    search_fields = ["title"]
    ordering_fields = ["id", "title", "created"]
    ordering = ["id"]

    def get_queryset(self):
        """Only the topics the requesting user may see."""
        return super().get_queryset().visible_to(self.request.user)

    def perform_create(self, serializer):
        """The requesting user owns the new topic."""
        serializer.save(owner=self.request.user)


class CommentViewSet(viewsets.ModelViewSet):
    """Comments: visible when their topic is; filter with ?topic=<id>."""

    queryset = Comment.objects.select_related("author")
    serializer_class = CommentSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    pagination_class = DiscussionPagination
    filter_backends = [DjangoFilterBackend, BoundedSearchFilter, StableOrderingFilter]
    owner_field = "author"
    filterset_class = CommentFilter
    search_fields = ["text"]
    ordering_fields = ["id", "created", "updated"]
    ordering = ["id"]

    def get_queryset(self):
        """Only the comments of topics the requesting user may see."""
        return super().get_queryset().visible_to(self.request.user)

    def perform_create(self, serializer):
        """The requesting user is the author of the new comment."""
        serializer.save(author=self.request.user)
