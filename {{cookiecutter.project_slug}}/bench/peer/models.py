"""One comment model, three tables: ours, DCRF's and the bare consumer's.

The same columns and indexes in each, so that a create costs the database
the same; separate tables, so that a save is heard only by the server that
made it (our broadcast and DCRF's observer both listen to `post_save`).
"""

from django.db import models


class PeerComment(models.Model):
    """The peer's shape: a topic number (no foreign key), text, a timestamp."""

    topic = models.IntegerField(db_index=True)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self):
        return f"{self.topic}: {self.text[:40]}"


class StreamComment(PeerComment):
    """Written through our stream `peer-comments`."""


class DcrfComment(PeerComment):
    """Written through DCRF's consumer (bench/peer/dcrf.py)."""


class BareComment(PeerComment):
    """Written by the bare consumer (bench/peer/consumers.py)."""
