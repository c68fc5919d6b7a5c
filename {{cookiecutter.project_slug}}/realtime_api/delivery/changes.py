"""A change: what a save or a delete becomes on its way to the subscribers.

One `Change` per stream and write. It names the object, not its content: each
receiving process renders the object for each of its audiences (users), as
`retrieve` would for them, so nothing is rendered for nobody.
"""

import uuid
from dataclasses import dataclass, field, fields, replace

ACTIONS = ("create", "update", "delete", "recheck")


def stream_group(stream):
    """The channel-layer group of every process that serves `stream`'s listeners."""
    return f"realtime-stream-{stream}"


def pk_value(pk):
    """A pk as changes carry it: an integer, or else its string (a UUID)."""
    return pk if isinstance(pk, int) else str(pk)


@dataclass(frozen=True, slots=True, eq=False)
class Change:
    """A change to one object of a stream, or a `recheck` of several.

    `recheck` means "who may see the objects matching `filter` may have
    changed" (a topic made private hides its comments): each process looks
    at those objects again for its audiences.
    """

    stream: str
    action: str
    pk: object = None  # None for a recheck
    groups: tuple = ()  # The object's groups after the change (recheck: its objects').
    old_groups: tuple = ()  # Its groups before it ((), for a create).
    deleted_json: str | None = None  # The `data` of a delete event.
    filter: dict | None = None  # recheck: ORM lookups of the objects.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int | None = None

    def concerns(self, groups):
        """Tell whether this change may matter to a listener of `groups`.

        A recheck with no groups (too many objects to name them, or logged by
        an older version) may matter to anyone.
        """
        if self.action == "recheck" and not self.groups:
            return True
        return not groups.isdisjoint(self.all_groups())

    def all_groups(self):
        """The groups the object was in before or is in now."""
        return {*self.groups, *self.old_groups}

    def with_seq(self, seq):
        return replace(self, seq=seq)

    def to_message(self):
        """The channel-layer message (JSON types only, for Redis)."""
        # Not dataclasses.asdict(): it deep-copies every value, on every publish.
        message = {name: getattr(self, name) for name in MESSAGE_FIELDS}
        message["type"] = "realtime.change"
        message["groups"] = list(self.groups)
        message["old_groups"] = list(self.old_groups)
        return message

    @classmethod
    def from_message(cls, message):
        values = {name: message.get(name) for name in cls.__dataclass_fields__}
        values["groups"] = tuple(values["groups"] or ())
        values["old_groups"] = tuple(values["old_groups"] or ())
        return cls(**values)


MESSAGE_FIELDS = tuple(f.name for f in fields(Change))


def collapse_rechecks(batch):
    """Drop each recheck that a later one of the batch repeats.

    A recheck reads the objects as they are now: two of the same objects in
    one batch would evaluate the same, and the second would find the
    first's `enter`s still unapplied and send them again as `update`s.
    """
    last = {}
    for index, change in enumerate(batch):
        if change.action == "recheck":
            last[(change.stream, repr(sorted(change.filter.items())))] = index
    if len(last) == sum(1 for c in batch if c.action == "recheck"):
        return batch
    keep = set(last.values())
    return [
        change
        for index, change in enumerate(batch)
        if change.action != "recheck" or index in keep
    ]
