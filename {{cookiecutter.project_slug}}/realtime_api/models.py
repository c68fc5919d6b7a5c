"""Tickets: one-time credentials for opening a socket from another origin.

The database holds them, so that a ticket issued by one server process is
accepted by any other (a local-memory cache would not be shared).
"""

from django.conf import settings
from django.db import models


class Ticket(models.Model):
    """A ticket, stored as its SHA-256: the table holds nothing usable."""

    digest = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    expires = models.DateTimeField(db_index=True)
    # What minted it: "session" or "token" and its key (blank: neither, e.g.
    # a header the project's own authentication class reads). The ticket and
    # its socket live only as long as that does (tickets.py, identity.py).
    minted_by = models.CharField(max_length=16, blank=True, default="")
    minted_key = models.TextField(blank=True, default="")

    def __str__(self):
        return f"Ticket of user {self.user_id}, until {self.expires:%H:%M:%S}"
