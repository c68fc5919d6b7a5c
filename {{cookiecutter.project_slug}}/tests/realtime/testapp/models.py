"""Folders and their notes.

Visibility: a public folder is visible to everyone, anonymous users included;
a private folder only to its owner. A note is visible when its folder is.
Staff users see everything. Only the owner of a folder or the author of a
note may change or delete it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

NOTE_TEXT_MAX_LENGTH = 2000


class FolderQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Folders `user` may see: public ones, their own, or all for staff."""
        if user is None or not user.is_authenticated:
            return self.filter(is_private=False)
        if user.is_staff:
            return self.all()
        return self.filter(Q(is_private=False) | Q(owner=user))


class NoteQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Notes `user` may see: those of the folders they may see."""
        if user is None or not user.is_authenticated:
            return self.filter(folder__is_private=False)
        if user.is_staff:
            return self.all()
        return self.filter(Q(folder__is_private=False) | Q(folder__owner=user))


class Folder(models.Model):
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="folders"
    )
    is_private = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = FolderQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name


class Note(models.Model):
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes"
    )
    text = models.TextField(max_length=NOTE_TEXT_MAX_LENGTH)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = NoteQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.text[:40]
