"""A `subscribe` payload, checked and evaluated for the socket's user.

Each key is a serializer field this user can read or a key of the endpoint's
`subscription_field_mapping`; a field's value is validated by the field
itself, as a write would be, so `{"topic": 3}` names a topic this user may
see or is refused like a missing one.

Only readable fields filter: a write-only field (`extra_kwargs={"email":
{"write_only": True}}`) or one the serializer leaves out for this user (its
`get_fields()`) would otherwise answer yes/no questions about a value the
user cannot read (`matched: 1` for the right guess). Such a key is refused
exactly as a key that names no field (400). Mapping keys stay allowed: the
endpoint's author chose them.
"""

from __future__ import annotations

from collections.abc import KeysView
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers

from realtime_api.delivery.changes import pk_value

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from realtime_api.streams.endpoints import Endpoint


class SubscriptionError(exceptions.APIException):
    """A subscription filter the endpoint cannot use (400)."""

    status_code = 400
    default_code = "invalid_subscription"


@dataclass(eq=False)
class Subscription:
    """One subscription of one socket, as its endpoint's hooks see it."""

    payload: dict[str, Any]  # As sent.
    data: dict[str, Any]  # The validated value of each payload key.
    lookups: dict[str, Any]  # The same filter as ORM lookups.
    # The objects it matches now: the view's queryset, filtered.
    queryset: QuerySet[Any]
    matched: frozenset[Any]  # Their pks.
    groups: frozenset[str] = field(default=frozenset())  # What it joins.

    def keys(self) -> KeysView[str]:
        """The payload's keys: `subscription.keys() == {"topic"}`."""
        return self.payload.keys()

    @classmethod
    def parse(cls, endpoint: Endpoint, payload: dict[str, Any]) -> Subscription:
        """Validate `payload` for `endpoint` (after its `initial()`)."""
        if not payload:
            raise SubscriptionError(
                'A subscription needs a filter, e.g. {"id": 5}; '
                "an empty payload would match nothing."
            )
        fields = readable_fields(endpoint.get_serializer())
        mapping = endpoint.subscription_field_mapping
        data: dict[str, Any] = {}
        lookups: dict[str, Any] = {}
        for key, value in payload.items():
            if key in mapping:
                data[key], lookups[mapping[key]] = value, value
            elif key in fields and fields[key].source != "*":
                data[key] = _validated(fields[key], key, value, payload)
                source = cast(str, fields[key].source)  # A bound field's.
                lookup = source.replace(".", "__")
                lookups[lookup + ("__in" if isinstance(value, list) else "")] = data[
                    key
                ]
            else:
                known = sorted({*fields, *mapping})
                raise SubscriptionError(
                    f"Unknown subscription field '{key}'. "
                    f"Use one of: {', '.join(known)}."
                )
        try:
            queryset = endpoint.get_queryset().filter(**lookups)
            matched = frozenset(map(pk_value, queryset.values_list("pk", flat=True)))
        except (DjangoValidationError, ValueError, TypeError) as exc:
            raise SubscriptionError(
                f"Invalid subscription filter {payload}: {_message(exc)}"
            ) from exc
        return cls(payload, data, lookups, queryset, matched)


def readable_fields(
    serializer: Any,
) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    """The fields a reader of the stream sees: {name: field}, for its user.

    The serializer's `fields` (after its `get_fields()` for this request)
    without the write-only ones: what `to_representation()` renders.
    """
    return {name: f for name, f in serializer.fields.items() if not f.write_only}


def _validated(
    field: serializers.Field[Any, Any, Any, Any],
    key: str,
    value: Any,
    payload: dict[str, Any],
) -> Any:
    """The field's own reading of a value (each item of a list)."""
    if field.read_only or isinstance(field, serializers.ReadOnlyField):
        return value
    values = value if isinstance(value, list) else [value]
    try:
        validated = [field.to_internal_value(item) for item in values]
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
        raise SubscriptionError(
            f"Invalid subscription filter {payload}: {key}: "
            f"{' '.join(str(message) for message in detail)}"
        ) from exc
    return validated if isinstance(value, list) else validated[0]


def _message(exc: Exception) -> str:
    if isinstance(exc, DjangoValidationError):
        return " ".join(exc.messages)
    return str(exc)
