import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from realtime_api.streams.search import BoundedSearchFilter

from .models import Folder, Note
from .serializers import FolderNameSerializer, FolderSerializer, NoteSerializer


class IsOwnerOrReadOnly(permissions.BasePermission):
    """Anyone may read; only the user in the view's `owner_field` may write."""

    message = "Only the user who created this object may change or delete it."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        owner_id = getattr(obj, f"{view.owner_field}_id")
        return request.user.is_authenticated and owner_id == request.user.pk


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class StableOrderingFilter(OrderingFilter):
    """OrderingFilter that breaks ties by id, so that pages never overlap."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(f.lstrip("-") in ("id", "pk") for f in ordering):
            return ordering
        return [*ordering, "id"]


class IsFolderOwner(permissions.BasePermission):
    """Only the folder's owner, whatever the method (reads included)."""

    message = "Only the folder's owner may archive it."

    def has_object_permission(self, request, view, obj):
        return obj.owner_id == request.user.pk


class ArchiveThrottle(UserRateThrottle):
    """Archiving is rare: 3 a minute per user (a 429 to test)."""

    scope = "archive"
    rate = "3/min"


def visible_folders(request):
    return Folder.objects.visible_to(getattr(request, "user", None))


class NoteFilter(django_filters.FilterSet):
    """?folder=<id>: a hidden folder is refused like a missing one."""

    folder = django_filters.ModelChoiceFilter(queryset=visible_folders)

    class Meta:
        model = Note
        fields = ["folder"]


class FolderViewSet(viewsets.ModelViewSet):
    queryset = Folder.objects.select_related("owner")
    serializer_class = FolderSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend, BoundedSearchFilter, StableOrderingFilter]
    owner_field = "owner"
    filterset_fields = ["is_private"]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created"]
    ordering = ["id"]

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

    # Three extra actions, served over the socket with no change in
    # realtime_api/: a detail one with its own permission and throttle
    # classes, a list one, and a detail one mapped to two methods with its
    # own serializer and authentication classes.

    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, IsFolderOwner],
        throttle_classes=[ArchiveThrottle],
    )
    def archive(self, request, pk=None):
        """Make a folder private (its owner only): a save, so it broadcasts."""
        folder = self.get_object()
        folder.is_private = True
        folder.save()
        return Response(self.get_serializer(folder).data)

    @extend_schema(responses=FolderSerializer(many=True))  # A paginated list.
    @action(detail=False, url_path="recent-first")
    def recent(self, request):
        """The visible folders, newest first, paginated as `list` is."""
        queryset = self.filter_queryset(self.get_queryset()).order_by("-created", "-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @action(
        detail=True,
        methods=["get", "put"],
        serializer_class=FolderNameSerializer,
        authentication_classes=[BasicAuthentication, SessionAuthentication],
    )
    def label(self, request, pk=None):
        """Read or set a folder's name alone (PUT: its owner only)."""
        folder = self.get_object()
        if request.method == "GET":
            return Response(self.get_serializer(folder).data)
        serializer = self.get_serializer(folder, data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response({**serializer.data, "action": self.action})


class NoteViewSet(viewsets.ModelViewSet):
    queryset = Note.objects.select_related("author")
    serializer_class = NoteSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend, BoundedSearchFilter, StableOrderingFilter]
    owner_field = "author"
    filterset_class = NoteFilter
    search_fields = ["text"]
    ordering_fields = ["id", "created", "updated"]
    ordering = ["id"]

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    def perform_create(self, serializer):
        serializer.save(author=self.request.user)


class StatsViewSet(viewsets.ViewSet):
    """A computed resource: a plain ViewSet, no queryset, no model."""

    permission_classes = [permissions.AllowAny]

    def list(self, request):
        """How many folders and notes the requesting user may see."""
        user = request.user
        return Response(
            {
                "folders": Folder.objects.visible_to(user).count(),
                "notes": Note.objects.visible_to(user).count(),
            }
        )

    @action(detail=False, methods=["post"])
    def echo(self, request):
        """Echo the body back, with who asked."""
        return Response({"you": request.user.get_username(), "sent": request.data})


class WordSerializer(serializers.Serializer):
    word = serializers.CharField(max_length=20)


class WordViewSet(viewsets.GenericViewSet):
    """A GenericViewSet without a queryset: a report computed from its input."""

    serializer_class = WordSerializer
    permission_classes = [permissions.IsAuthenticated]

    @action(detail=False, methods=["post"])
    def count(self, request):
        """Count the folders whose name holds the word (400: no word)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        word = serializer.validated_data["word"]
        visible = Folder.objects.visible_to(request.user)
        return Response(
            {"word": word, "folders": visible.filter(name__icontains=word).count()}
        )
