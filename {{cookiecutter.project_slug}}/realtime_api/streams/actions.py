"""The actions a stream serves: one table, read from its view as DRF's router reads it.

The protocol's built-in actions (PROTOCOL.md, "Actions") and each `@action`
of the view (`get_extra_actions()`: its `mapping`, `detail`, `url_path`,
`kwargs`) are `Action` entries of one structure. The dispatcher, the frame
schemas, the AsyncAPI document, the TypeScript declarations' test and the
test helpers all read it: adding an `@action` to a view changes nothing here.
"""

from dataclasses import dataclass, field
from typing import Any

# How a frame's payload reaches the view.
QUERY = "query"  # as query parameters (GET)
BODY = "body"  # as a JSON body (POST, PUT, PATCH)
NONE = "none"  # not at all

# HTTP methods whose payload is sent as query parameters, not as a body.
QUERY_METHODS = frozenset({"get", "head", "options", "delete"})


@dataclass(frozen=True, slots=True)
class Action:
    """One action of a stream: what a frame names, and the route it runs."""

    name: str  # What a frame names: "update", or an extra action's url_path.
    kind: str  # "rest", "extra", "subscription", "live" or "presence".
    detail: bool  # True: the frame names a lookup.
    # The router's route serving it, "list" or "detail"; None for extra
    # actions (each has its own) and for those with no HTTP twin (subscribe).
    route: str | None = None
    # HTTP method -> the viewset method it runs; the first is the default.
    mapping: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    # Built-in actions send their payload one fixed way; extra actions by method.
    payload: str | None = None
    # An extra action: the viewset method's name and its url_name (reverse()).
    function_name: str | None = None
    url_name: str | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.mapping)

    @property
    def default_method(self) -> str | None:
        return next(iter(self.mapping), None)

    def payload_for(self, method: str) -> str:
        """How the payload of a request by `method` reaches the view."""
        if self.payload is not None:
            return self.payload
        return QUERY if method in QUERY_METHODS else BODY


def _builtin(
    name: str,
    kind: str,
    detail: bool,
    route: str | None = None,
    mapping: dict[str, str] | None = None,
    payload: str = NONE,
    summary: str = "",
) -> Action:
    return Action(
        name=name,
        kind=kind,
        detail=detail,
        route=route,
        mapping=mapping or {},
        payload=payload,
        summary=summary,
    )


BUILTIN_ACTIONS = {
    action.name: action
    for action in (
        _builtin(
            "list",
            "rest",
            False,
            "list",
            {"get": "list"},
            QUERY,
            "List objects, as GET on the collection.",
        ),
        _builtin(
            "retrieve",
            "rest",
            True,
            "detail",
            {"get": "retrieve"},
            NONE,
            "Read one object, as GET on its detail URL.",
        ),
        _builtin(
            "create",
            "rest",
            False,
            "list",
            {"post": "create"},
            BODY,
            "Create an object, as POST.",
        ),
        _builtin(
            "update",
            "rest",
            True,
            "detail",
            {"patch": "partial_update"},
            BODY,
            "Change an object's fields, as PATCH.",
        ),
        _builtin(
            "replace",
            "rest",
            True,
            "detail",
            {"put": "update"},
            BODY,
            "Replace an object (every field), as PUT.",
        ),
        _builtin(
            "delete",
            "rest",
            True,
            "detail",
            {"delete": "destroy"},
            NONE,
            "Delete an object, as DELETE.",
        ),
        _builtin(
            "options",
            "rest",
            False,
            "list",
            {"options": "options"},
            NONE,
            "The view's metadata, as OPTIONS.",
        ),
        _builtin(
            "subscribe",
            "subscription",
            False,
            summary="Receive events about the objects a filter matches.",
        ),
        _builtin(
            "unsubscribe",
            "subscription",
            False,
            summary="End the subscription with the same filter.",
        ),
        # A live query reads as `list` does.
        _builtin(
            "watch",
            "live",
            False,
            "list",
            {"get": "list"},
            QUERY,
            "A list that stays live: its response, then enter/update/leave.",
        ),
        _builtin("unwatch", "live", False, summary="End a live query."),
        # Presence on one object: joining it is a `retrieve`.
        _builtin(
            "join",
            "presence",
            True,
            "detail",
            {"get": "retrieve"},
            NONE,
            "Be present on an object (a `retrieve` of it): who is there, then "
            "presence events.",
        ),
        _builtin(
            "leave",
            "presence",
            True,
            "detail",
            {"get": "retrieve"},
            NONE,
            "Stop being present on an object.",
        ),
        _builtin(
            "signal",
            "presence",
            True,
            "detail",
            {"get": "retrieve"},
            NONE,
            "Relay a small payload (at most 1 KiB) to the others present; "
            "never stored.",
        ),
    )
}
# Names an extra action's url_path may not take: every frame verb of the
# protocol, including those handled before a stream is looked up.
PROTOCOL_VERBS = frozenset({*BUILTIN_ACTIONS, "reauthenticate"})
# The router's method maps of a viewset's two routes (DRF's SimpleRouter).
ROUTE_METHODS = {
    "list": {"get": "list", "post": "create"},
    "detail": {
        "get": "retrieve",
        "put": "update",
        "patch": "partial_update",
        "delete": "destroy",
    },
}
ROUTE_SUFFIXES = {"list": "List", "detail": "Instance"}


def extra_action(function: Any) -> Action:
    """The Action of one `@action` method, read as DRF's router reads it."""
    mapping = dict(function.mapping)
    doc = (function.__doc__ or "").strip()
    methods = "/".join(method.upper() for method in mapping)
    return Action(
        name=function.url_path,
        kind="extra",
        detail=bool(function.detail),
        mapping=mapping,
        summary=doc.splitlines()[0]
        if doc
        else f"The view's `{function.__name__}` action, as {methods}.",
        function_name=function.__name__,
        url_name=function.url_name,
    )
