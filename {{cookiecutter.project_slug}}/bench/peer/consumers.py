"""The bare column: bench/reference.py's consumer over the peer's table.

The reference groups creates by foreign key; the peer's `topic` is a plain
integer, so this one groups by it. Everything else is the reference's:
one ORM write, a plain `group_send`, each subscriber encoding the event.
"""

from bench.reference import MinimalConsumer, group_name

from .models import BareComment


class BareCommentConsumer(MinimalConsumer):
    model = BareComment

    def groups_of(self, data):
        """`subscribe {"topic": 3}` hears creates in topic 3."""
        return [group_name("topic", data["topic"])]
