"""A live query's order: the `ordering` param read as the server sorts by it."""

import functools
import re
from datetime import UTC, datetime

from .frames import stable_json

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def ordering_compare(ordering):
    """A compare(a, b) from an `ordering` param ("-created,title"), or None.

    Ties by id (ascending, unless the ordering names id or pk), as the
    server breaks them; fields missing from the objects compare equal.
    """
    if isinstance(ordering, list | tuple):
        ordering = ",".join(ordering)
    if not isinstance(ordering, str) or not ordering.strip():
        return None
    fields = []
    for field in filter(None, (part.strip() for part in ordering.split(","))):
        name = field.lstrip("-+")
        fields.append(("id" if name == "pk" else name, -1 if field[0] == "-" else 1))
    if not any(name == "id" for name, _ in fields):
        fields.append(("id", 1))

    def compare(a, b):
        for name, direction in fields:
            order = compare_values(a.get(name), b.get(name))
            if order:
                return order * direction
        return 0

    return compare


def compare_values(a, b):
    """Nulls first; date-times as times; numbers, booleans and strings by value."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    if isinstance(a, str) and isinstance(b, str):
        a_time, b_time = datetime_key(a), datetime_key(b)
        if a_time is not None and b_time is not None:
            a, b = a_time, b_time
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        a, b = stable_json(a), stable_json(b)
    try:
        return (a > b) - (a < b)
    except TypeError:
        return (str(a) > str(b)) - (str(a) < str(b))


@functools.lru_cache(maxsize=4096)
def datetime_key(value):
    """The time of an ISO 8601 date-time (naive ones read as UTC), or None."""
    if not ISO_DATETIME.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
