"""Helpers of the sample's socket tests: the framework's, on topics and comments.

`http_twin()` and the others come from the framework's own tests
(tests/realtime/helpers.py); `snapshot()` here covers the sample's rows.
"""

from discussion.models import Comment, Topic
from tests.realtime.helpers import (
    communicator,
    http_twin,
    rows,
    save,
    without_volatile,
)

__all__ = ["communicator", "http_twin", "save", "snapshot", "without_volatile"]


async def snapshot():
    """Every topic and comment row, to prove that a refused request wrote nothing."""
    return await rows(Topic, Comment)
