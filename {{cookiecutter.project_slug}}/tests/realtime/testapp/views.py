import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination

from realtime_api.search import BoundedSearchFilter

from .models import Folder, Note
from .serializers import FolderSerializer, NoteSerializer


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
