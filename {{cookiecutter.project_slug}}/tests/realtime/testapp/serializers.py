from rest_framework import serializers

from .models import NOTE_TEXT_MAX_LENGTH, Folder, Note


class CanEditField(serializers.ReadOnlyField):
    """True when the requesting user owns the object: a field rendered per user."""

    def __init__(self, owner_field, **kwargs):
        super().__init__(source="*", **kwargs)
        self.owner_field = owner_field

    def to_representation(self, obj):
        user = getattr(self.context.get("request"), "user", None)
        owner_id = getattr(obj, f"{self.owner_field}_id")
        return bool(user and user.is_authenticated and owner_id == user.pk)


class FolderSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")
    can_edit = CanEditField("owner")

    class Meta:
        model = Folder
        fields = ["id", "name", "owner", "is_private", "created", "can_edit"]
        read_only_fields = ["created"]


class FolderNameSerializer(serializers.ModelSerializer):
    """A folder's name alone: the serializer of the `label` action."""

    class Meta:
        model = Folder
        fields = ["id", "name"]


class VisibleFolderField(serializers.PrimaryKeyRelatedField):
    """A folder pk, accepted only when the requesting user may see the folder.

    A hidden folder gets the error of a missing one: it cannot be discovered.
    """

    def get_queryset(self):
        user = getattr(self.context.get("request"), "user", None)
        return Folder.objects.visible_to(user)


class NoteSerializer(serializers.ModelSerializer):
    folder = VisibleFolderField()
    author = serializers.ReadOnlyField(source="author.username")
    can_edit = CanEditField("author")
    text = serializers.CharField(min_length=1, max_length=NOTE_TEXT_MAX_LENGTH)

    class Meta:
        model = Note
        fields = ["id", "folder", "author", "text", "created", "updated", "can_edit"]
        read_only_fields = ["created", "updated"]


class SealedFolderSerializer(FolderSerializer):
    """Folders whose `name` is write-only, and whose `is_private` only staff read.

    For the rule that filters name readable fields only
    (realtime_api/streams/subscription_filters.py).
    """

    class Meta(FolderSerializer.Meta):
        extra_kwargs = {"name": {"write_only": True}}

    def get_fields(self):
        fields = super().get_fields()
        user = getattr(self.context.get("request"), "user", None)
        if not (user and user.is_staff):
            del fields["is_private"]  # Hidden from everyone but staff.
        return fields
