"""What the socket needs to know of an endpoint's DRF view, worked out once.

The registry builds one `ViewAdapter` per endpoint class when it is
registered: the view functions the router would build, the actions the view
implements, its lookup, its model and paths. Endpoint instances read it and
never inspect the view themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.viewsets import ViewSetMixin

from realtime_api.protocol import ProtocolError, dumps
from realtime_api.streams.actions import (
    BUILTIN_ACTIONS,
    PROTOCOL_VERBS,
    ROUTE_METHODS,
    ROUTE_SUFFIXES,
    Action,
    extra_action,
)

if TYPE_CHECKING:
    from rest_framework.request import Request

    from realtime_api.streams.endpoints import Endpoint

# A view function as DRF's as_view() returns it (with `cls`, `initkwargs` and,
# for a viewset, `actions`), maybe wrapped in a transaction.
ViewFunction = Any

STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
# Kinds of action that read the view's objects as a model's rows.
MODEL_KINDS = frozenset({"subscription", "live"})
PRESENCE_ACTIONS = frozenset(
    name for name, action in BUILTIN_ACTIONS.items() if action.kind == "presence"
)


class ViewAdapter:
    """One registered endpoint: its view's functions, actions, lookup and paths."""

    def __init__(self, endpoint_class: type[Endpoint]) -> None:
        check(endpoint_class)
        self.endpoint_class = endpoint_class
        self.stream = cast(str, endpoint_class.stream)  # check() made sure
        # check() made sure of a view class; a viewset's own methods are used too.
        self.view = cast("type[Any]", endpoint_class.view)
        self.is_viewset = issubclass(self.view, ViewSetMixin)
        self.model = endpoint_class.model or _queryset_model(self.view)
        self.basename: str | None = endpoint_class.basename or (
            self.model._meta.model_name if self.model else None
        )
        self.lookup_url_kwarg = cast(
            str,
            getattr(self.view, "lookup_url_kwarg", None)
            or getattr(self.view, "lookup_field", "pk"),
        )
        self.lookup_value_regex: str = getattr(
            self.view, "lookup_value_regex", "[^/.]+"
        )
        # Route ("list", "detail") -> its view function, or None.
        self.functions: dict[str | None, ViewFunction] = {
            route: self._build_function(route) for route in ("list", "detail")
        }
        # The action table: the protocol's actions, then the view's @actions.
        self.actions = dict(BUILTIN_ACTIONS)
        # extra action name -> its view function
        self.extra_functions: dict[str, ViewFunction] = {}
        # @actions named like a protocol verb: a system check
        self.clashes: list[Action] = []
        if self.is_viewset:
            for function in self.view.get_extra_actions():
                self._add_extra_action(function)
        wanted = endpoint_class.allowed_actions or self.actions
        check_allowed_actions(endpoint_class, self.actions)
        self.allowed_actions = frozenset(a for a in wanted if self.implements(a))
        self._list_path: str | None = None

    def _add_extra_action(self, function: Any) -> None:
        action = extra_action(function)
        if action.name in PROTOCOL_VERBS:
            self.clashes.append(action)
            return
        self.actions[action.name] = action
        # As DRF's router builds the route of an @action (SimpleRouter.get_urls).
        view_function = self.view.as_view(
            dict(action.mapping),  # as_view() adds "head" to the dict it gets
            basename=self.basename,
            detail=action.detail,
            **function.kwargs,
        )
        self.extra_functions[action.name] = atomic_if_configured(view_function)

    def _build_function(self, route: str) -> ViewFunction:
        if not self.is_viewset:
            return atomic_if_configured(self.view.as_view())
        methods = {
            method: action
            for method, action in ROUTE_METHODS[route].items()
            if hasattr(self.view, action)
        }
        if not methods:
            return None
        function = self.view.as_view(
            methods,
            basename=self.basename,
            detail=route == "detail",
            suffix=ROUTE_SUFFIXES[route],
        )
        return atomic_if_configured(function)

    def readable(self) -> bool:
        """Tell whether the view answers a GET of its objects (list or detail)."""
        return self.implements("list") or self.implements("retrieve")

    def implements(self, name: str) -> bool:
        """Tell whether the view implements the HTTP twin of action `name`."""
        action = self.actions[name]
        if action.kind == "extra":
            return True
        if action.kind == "subscription":
            return self.readable() and self.model is not None
        if action.kind == "live":
            return self.implements("list") and self.model is not None
        if action.kind == "presence":
            return (
                bool(self.endpoint_class.presence)
                and self.model is not None
                and self.implements("retrieve")
                and hasattr(self.view, "get_object")
            )
        method, viewset_action = next(iter(action.mapping.items()))
        if self.is_viewset:
            return self.functions[action.route] is not None and (
                name == "options" or hasattr(self.view, viewset_action)
            )
        return method in self.view.http_method_names and hasattr(self.view, method)

    def check_action(self, name: str, method: str | None = None) -> Action:
        """Return the Action a frame names, or raise why this stream refuses it."""
        action = self.actions.get(name)
        if action is None:
            raise ProtocolError(
                405,
                f"Unknown action '{name}'. Use one of: {', '.join(self.actions)}.",
            )
        if (
            action.kind in MODEL_KINDS
            and self.model is None
            and name not in self.allowed_actions
            and self.readable()
        ):
            raise ProtocolError(
                400,
                f"Stream '{self.stream}' has no model (its view has no "
                "queryset), so nothing to subscribe to or watch: it serves "
                "requests only. Set `model` on its endpoint to broadcast a "
                "model's changes.",
            )
        if name not in self.allowed_actions:
            raise ProtocolError(
                405, f"Action '{name}' is not allowed on stream '{self.stream}'."
            )
        # An @action's other methods go to its view, which answers them as
        # over HTTP (its checks first, then 405: "Method ... not allowed.").
        if (
            action.kind != "extra"
            and method is not None
            and method not in action.mapping
        ):
            methods = ", ".join(m.upper() for m in action.mapping) or "no method"
            raise ProtocolError(
                405,
                f"Action '{name}' of stream '{self.stream}' takes {methods}, "
                f"not {method.upper()}.",
            )
        return action

    def lookup_matches(self, lookup: str) -> bool:
        """Tell whether a URL with this lookup would reach the detail route."""
        return re.fullmatch(self.lookup_value_regex, lookup) is not None

    def function_for(self, action: Action) -> ViewFunction:
        """Return the view function that serves `action` (an Action)."""
        if action.kind == "extra":
            return self.extra_functions[action.name]
        return self.functions[action.route]

    def read_function(self, prefer: str = "detail") -> ViewFunction:
        """Return a view function that answers GET, `prefer`'s route first."""
        other = "list" if prefer == "detail" else "detail"
        return self.functions[prefer] or self.functions[other]

    def path(self, lookup: str | None = None, action: Action | None = None) -> str:
        """Return the HTTP twin's path: the router's URL when it has one.

        The view builds links from it (pagination's `next`), so it must be the
        view's HTTP URL for the body to be the HTTP body.
        """
        kwargs = {self.lookup_url_kwarg: lookup} if lookup is not None else {}
        if action is not None and action.kind == "extra":
            return self._reverse(action.url_name, kwargs, action.name)
        if lookup is None:
            if self._list_path is None:
                self._list_path = self._reverse("list", {})
            return self._list_path
        return self._reverse("detail", kwargs)

    def _reverse(
        self, url_name: str | None, kwargs: dict[str, str], url_path: str | None = None
    ) -> str:
        try:
            return reverse(f"{self.basename}-{url_name}", kwargs=kwargs)
        except NoReverseMatch:
            lookup = kwargs and f"{next(iter(kwargs.values()))}/"
            extra = f"{url_path}/" if url_path else ""
            return f"/{self.stream}/{lookup or ''}{extra}"

    def visibility_dependencies(self) -> Iterator[tuple[str, type[Model]]]:
        """Yield (field, related model) for each `visibility_depends_on` entry."""
        for field_name in self.endpoint_class.visibility_depends_on:
            try:
                field = self.model._meta.get_field(field_name) if self.model else None
            except (AttributeError, FieldDoesNotExist):
                field = None
            if field is None or not field.many_to_one:
                raise ImproperlyConfigured(
                    f"'{self.endpoint_class.__qualname__}'.visibility_depends_on "
                    f"names {field_name!r}: use a ForeignKey of "
                    f"{getattr(self.model, '__name__', 'its model')}."
                )
            # A ForeignKey's related model: a model class.
            yield field_name, cast("type[Model]", field.related_model)


def check(endpoint_class: type[Endpoint]) -> None:
    """Raise ImproperlyConfigured when the endpoint class cannot work."""
    name = endpoint_class.__qualname__
    if endpoint_class.view is None:
        raise ImproperlyConfigured(
            f"'{name}' should include a `view` attribute: a DRF view or viewset."
        )
    stream = endpoint_class.stream
    if not isinstance(stream, str) or not STREAM_NAME.match(stream):
        raise ImproperlyConfigured(
            f"'{name}' should include a `stream` attribute of 1 to 60 "
            f"letters, digits, '-', '_' or '.', not {stream!r}."
        )
    check_presence(endpoint_class)


def check_allowed_actions(
    endpoint_class: type[Endpoint], actions: Mapping[str, Action]
) -> None:
    """`allowed_actions` may name the protocol's actions and the view's @actions."""
    unknown = set(endpoint_class.allowed_actions or ()) - set(actions)
    if unknown:
        raise ImproperlyConfigured(
            f"'{endpoint_class.__qualname__}'.allowed_actions names unknown "
            f"actions: {', '.join(sorted(unknown))}. Use some of: "
            f"{', '.join(actions)}."
        )


def check_extra_actions(adapter: ViewAdapter) -> list[checks.CheckMessage]:
    """Messages for `manage.py check`: @actions the socket cannot name."""
    view = f"{adapter.view.__module__}.{adapter.view.__qualname__}"
    messages: list[checks.CheckMessage] = []
    for action in adapter.clashes:
        messages.append(
            checks.Error(
                f"{view}.{action.function_name} (stream '{adapter.stream}') has "
                f"url_path {action.name!r}, a verb of the realtime protocol: a "
                f"frame '{adapter.stream}/{action.name}/' means the protocol's "
                "action, not this one.",
                hint=f"Give it another url_path, e.g. @action(..., "
                f'url_path="{adapter.stream}-{action.name}"); '
                f"reserved: {', '.join(sorted(PROTOCOL_VERBS))}.",
                obj=adapter.view,
                id="realtime_api.E006",
            )
        )
    for action in adapter.actions.values():
        if action.kind == "extra" and "/" in action.name:
            messages.append(
                checks.Warning(
                    f"{view}.{action.function_name} (stream '{adapter.stream}') "
                    f"has url_path {action.name!r}: a frame's path form "
                    f"('{adapter.stream}/<action>/<lookup>/') cannot name it.",
                    hint='Clients must send the structured form ({"stream": '
                    f'"{adapter.stream}", "action": "{action.name}", ...}}), or '
                    "give it a url_path without '/'.",
                    obj=adapter.view,
                    id="realtime_api.W006",
                )
            )
    return messages


def check_presence(endpoint_class: type[Endpoint]) -> None:
    """Presence needs `presence = True`, and its actions when actions are listed."""
    name = endpoint_class.__qualname__
    listed = set(endpoint_class.allowed_actions or ())
    if endpoint_class.presence and listed and "join" not in listed:
        raise ImproperlyConfigured(
            f"'{name}' sets `presence = True` but its allowed_actions leave out "
            "'join': add 'join' and 'leave' (and 'signal' to relay signals)."
        )
    if not endpoint_class.presence and listed & PRESENCE_ACTIONS:
        raise ImproperlyConfigured(
            f"'{name}'.allowed_actions names presence actions: set "
            "`presence = True` on it as well."
        )


def _queryset_model(view: Any) -> type[Model] | None:
    queryset = getattr(view, "queryset", None)
    model: type[Model] | None = queryset.model if queryset is not None else None
    return model


def atomic_if_configured(view_func: ViewFunction) -> ViewFunction:
    """Wrap a view in a transaction where ATOMIC_REQUESTS says so, like Django."""
    non_atomic: set[str] = getattr(view_func, "_non_atomic_requests", set())
    for alias, settings_dict in connections.settings.items():
        if settings_dict["ATOMIC_REQUESTS"] and alias not in non_atomic:
            view_func = transaction.atomic(using=alias)(view_func)
    return view_func


def build_view(
    view_func: ViewFunction, django_request: HttpRequest, kwargs: dict[str, Any]
) -> tuple[Any, Request]:
    """Instantiate a view as `view_func` would, up to (not including) `initial()`.

    Used where the view object itself is needed (its queryset and
    serializer) rather than its response: subscriptions and events.
    """
    view = view_func.cls(**view_func.initkwargs)
    actions = getattr(view_func, "actions", None)
    if actions:
        view.action_map = actions
        for method, action in actions.items():
            setattr(view, method, getattr(view, action))
    view.args, view.kwargs = (), kwargs
    view.request = django_request
    request: Request = view.initialize_request(django_request, **kwargs)
    view.request = request
    view.headers = view.default_response_headers
    view.format_kwarg = None
    return view, request


def render_response(response: Any) -> tuple[int, str]:
    """Return (status, JSON text of the body) of a DRF response (or Django's)."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    status = response.status_code
    content = response.content
    if not content:
        data_json = "null"
    elif response.get("Content-Type", "").startswith("application/json"):
        data_json = content.decode(response.charset)
    else:
        # The view rendered something else (HTML, say): send its data as JSON.
        data_json = json.dumps(
            getattr(response, "data", None), cls=JSONEncoder, ensure_ascii=False
        )
    if status == 429:
        data_json = _with_wait(data_json, response.get("Retry-After"))
    return status, data_json


def _with_wait(data_json: str, retry_after: str | None) -> str:
    """PROTOCOL.md adds the throttle's wait (Retry-After over HTTP) to a 429."""
    data = json.loads(data_json)
    if not isinstance(data, dict):
        data = {"detail": data}
    data["wait"] = int(retry_after) if retry_after else None
    return dumps(data)
