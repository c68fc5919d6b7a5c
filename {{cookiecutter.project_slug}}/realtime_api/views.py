"""Run a DRF view for a WebSocket request, exactly as Django would over HTTP."""

import json

from django.db import connections, transaction
from rest_framework import exceptions
from rest_framework.utils.encoders import JSONEncoder

from .protocol import dumps

# Protocol action -> (route, HTTP method, viewset action): the router's map.
ACTION_ROUTES = {
    "list": ("list", "get", "list"),
    "watch": ("list", "get", "list"),
    "create": ("list", "post", "create"),
    "options": ("list", "options", "options"),
    "retrieve": ("detail", "get", "retrieve"),
    "update": ("detail", "patch", "partial_update"),
    "delete": ("detail", "delete", "destroy"),
}
# The router's method maps and initkwargs for a viewset's two routes.
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


class SubscriptionError(exceptions.APIException):
    """A subscription filter the endpoint cannot use (400)."""

    status_code = 400
    default_code = "invalid_subscription"


def viewset_function(viewset, route, basename):
    """Return the view function DRF's router would build for `route`."""
    methods = {
        method: action
        for method, action in ROUTE_METHODS[route].items()
        if hasattr(viewset, action)
    }
    if not methods:
        return None
    return viewset.as_view(
        methods,
        basename=basename,
        detail=route == "detail",
        suffix=ROUTE_SUFFIXES[route],
    )


def atomic_if_configured(view_func):
    """Wrap a view in a transaction where ATOMIC_REQUESTS says so, like Django."""
    non_atomic = getattr(view_func, "_non_atomic_requests", set())
    for alias, settings_dict in connections.settings.items():
        if settings_dict["ATOMIC_REQUESTS"] and alias not in non_atomic:
            view_func = transaction.atomic(using=alias)(view_func)
    return view_func


def prepare_view(view_func, django_request, kwargs):
    """Instantiate a view as `view_func` would, up to (not including) `initial()`.

    Used where we need the view object itself (its queryset and serializer)
    rather than its response: subscriptions and event serialization.
    """
    view = view_func.cls(**view_func.initkwargs)
    actions = getattr(view_func, "actions", None)
    if actions:
        view.action_map = actions
        for method, action in actions.items():
            setattr(view, method, getattr(view, action))
    view.args, view.kwargs = (), kwargs
    view.request = django_request
    request = view.initialize_request(django_request, **kwargs)
    view.request = request
    view.headers = view.default_response_headers
    view.format_kwarg = None
    return view, request


def run_prepared(view, request, work):
    """Run `work()` after the view's checks, handling errors as DRF would."""
    try:
        view.initial(request, *view.args, **view.kwargs)
        return None, work()
    except Exception as exc:
        response = view.handle_exception(exc)
    return view.finalize_response(request, response), None


def render_response(response):
    """Return (status, JSON text of the body) of a DRF response."""
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


def _with_wait(data_json, retry_after):
    """PROTOCOL.md adds the throttle's wait (Retry-After over HTTP) to a 429."""
    data = json.loads(data_json)
    if not isinstance(data, dict):
        data = {"detail": data}
    data["wait"] = int(retry_after) if retry_after else None
    return dumps(data)
