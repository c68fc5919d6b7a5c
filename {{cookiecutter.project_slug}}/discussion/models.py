"""Topics and their comments.

Visibility: a public topic is visible to everyone, anonymous users included;
a private topic only to its owner. A comment is visible when its topic is.
Staff users see everything, as they do in the admin, and so do users granted
the `discussion.view_private_topics` permission (directly or through a
group: a moderators group, say). Only the owner of a topic
or the author of a comment may change or delete it (see permissions.py).
The owner may close a topic (`topics/close/<id>/`): it then takes no new
comments.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

COMMENT_TEXT_MAX_LENGTH = 2000


VIEW_PRIVATE_TOPICS = "discussion.view_private_topics"


def sees_every_topic(user):
    """Staff, and the holders of the view_private_topics permission."""
    return user.is_staff or user.has_perm(VIEW_PRIVATE_TOPICS)


class TopicQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Topics `user` may see: public ones, their own, or all for moderators."""
        if user is None or not user.is_authenticated:
            return self.filter(is_private=False)
        if sees_every_topic(user):
            return self.all()
        return self.filter(Q(is_private=False) | Q(owner=user))


class CommentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Comments `user` may see: those of the topics they may see."""
        if user is None or not user.is_authenticated:
            return self.filter(topic__is_private=False)
        if sees_every_topic(user):
            return self.all()
        return self.filter(Q(topic__is_private=False) | Q(topic__owner=user))


class Topic(models.Model):
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topics"
    )
    is_private = models.BooleanField(
        default=False, help_text="Only the owner (and staff) can see a private topic."
    )
    closed = models.BooleanField(
        default=False, help_text="A closed topic takes no new comments."
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        permissions = [("view_private_topics", "Can see every private topic")]

    def __str__(self):
        return self.title


class Comment(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    text = models.TextField(max_length=COMMENT_TEXT_MAX_LENGTH)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.author} on {self.topic}: {self.text[:40]}"
