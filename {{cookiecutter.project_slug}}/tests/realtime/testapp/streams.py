"""The test app's streams, `folders` and `notes`, and the registry serving them."""

from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry

from .views import FolderViewSet, NoteViewSet, StatsViewSet, WordViewSet


class FolderStream(Endpoint):
    """Folders; who is looking at a folder, live (presence)."""

    view = FolderViewSet
    stream = "folders"
    presence = True
    subscription_field_mapping = {"ids": "pk__in", "name": "name__istartswith"}


class NoteStream(Endpoint):
    """Notes; `{"folder": 3}` also hears of notes added to folder 3 later."""

    view = NoteViewSet
    stream = "notes"
    # A note is visible when its folder is.
    visibility_depends_on = {"folder": ["is_private", "owner"]}

    def get_group_names(self, note):
        return [*super().get_group_names(note), f"notes-folder-{note.folder_id}"]

    def get_subscription_groups(self, subscription):
        if subscription.keys() == {"folder"}:
            # One folder or a list of them (the filter then reads `folder__in`).
            folders = subscription.data["folder"]
            folders = folders if isinstance(folders, list) else [folders]
            return {f"notes-folder-{folder.pk}" for folder in folders}
        return super().get_subscription_groups(subscription)


class StatsStream(Endpoint):
    """A plain ViewSet without a model: requests only, no subscriptions."""

    view = StatsViewSet
    stream = "stats"
    basename = "stats"


class WordStream(Endpoint):
    """A GenericViewSet without a queryset: its @action only."""

    view = WordViewSet
    stream = "words"
    basename = "words"


registry = Registry()
registry.register(FolderStream, NoteStream, StatsStream, WordStream)
