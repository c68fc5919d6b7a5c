from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from realtime_api.api import BoundedSearchFilter

from .filters import CommentFilter, StableOrderingFilter
from .models import Comment, Topic
from .pagination import DiscussionPagination
from .permissions import IsOwnerOrReadOnly, IsTopicOwner
from .serializers import CommentSerializer, TopicSerializer


class CloseRateThrottle(UserRateThrottle):
    """Closing topics: 30 a minute per user is plenty for a person."""

    scope = "topic-close"
    rate = "30/min"


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

    # Two @actions: over HTTP at /api/topics/<id>/close/ and /api/topics/mine/,
    # over the socket as `topics/close/<id>/` and `topics/mine/`, each through
    # this view with its own permission (and throttle) classes.

    @extend_schema(
        request=None,
        responses=TopicSerializer,
        summary="Close a topic: it takes no new comments (its owner only).",
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, IsTopicOwner],
        throttle_classes=[CloseRateThrottle],
    )
    def close(self, request, pk=None):
        """Close a topic: it takes no new comments (its owner only)."""
        topic = self.get_object()
        if not topic.closed:
            topic.closed = True
            topic.save(update_fields=["closed"])  # A save: subscribers hear it.
        return Response(self.get_serializer(topic).data)

    @extend_schema(
        responses=TopicSerializer(many=True),
        summary="The requesting user's topics, private ones included.",
    )
    @action(detail=False, permission_classes=[permissions.IsAuthenticated])
    def mine(self, request):
        """The requesting user's topics, private ones included."""
        queryset = self.filter_queryset(self.get_queryset()).filter(owner=request.user)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


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
