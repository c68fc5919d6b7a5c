"""Endpoint: one DRF view served as a stream of the WebSocket API.

Read it like DRF's `GenericAPIView`: attributes first, then short hooks to
override, then the actions the socket calls. The view stays the source of
truth: requests run through its view function, and subscriptions, events and
live queries use its `get_queryset()` and serializer for the socket's user.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AnonymousUser
from rest_framework.renderers import JSONRenderer

from realtime_api.protocol import ProtocolError, dumps
from realtime_api.streams import request_factory
from realtime_api.streams.actions import BODY, QUERY
from realtime_api.streams.subscription_filters import Subscription
from realtime_api.streams.view_adapter import build_view, render_response

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest
    from rest_framework.request import Request
    from rest_framework.serializers import BaseSerializer
    from rest_framework.views import APIView

    from realtime_api.streams.actions import Action
    from realtime_api.streams.view_adapter import ViewAdapter

_renderer = JSONRenderer()


class Refused(Exception):
    """The view refused the request: answer with its response (status, body)."""

    def __init__(self, status: int, data_json: str) -> None:
        super().__init__(status)
        self.status = status
        self.data_json = data_json


class Endpoint:
    """Serve `view` (a DRF viewset or APIView) as `stream` on the socket.

    Register the class in the project's registry (config/realtime.py). The
    socket makes one instance per request frame, as Django makes one view
    instance per request; `initial()` sets `self.request` and
    `self.view_instance` before any hook that needs them runs.
    """

    # --- What to serve ------------------------------------------------------
    # A DRF viewset or APIView class: the source of truth for everything.
    view: type[APIView] | None = None
    # The first part of the stream path: "comments" in "comments/update/5/".
    stream: str | None = None
    # The model whose changes are broadcast; the view's queryset's by default.
    # An endpoint with neither serves requests but no subscriptions.
    model: type[Model] | None = None
    # The router's basename (it names the view's routes); the model's name.
    basename: str | None = None
    # A whitelist of protocol actions; None allows what the view implements.
    allowed_actions: Collection[str] | None = None
    # The field a delete event names besides the pk; the view's lookup_field.
    lookup_field: str | None = None
    # The serializer of events and subscription fields; the view's by default.
    serializer_class: type[BaseSerializer[Any]] | None = None

    # --- Subscriptions and events -------------------------------------------
    # Subscription keys mapped to ORM lookups, e.g. {"ids": "pk__in"}.
    subscription_field_mapping: dict[str, str] = {}
    # True: every save and delete broadcasts after commit. False: only the
    # code's own calls to `realtime_api.delivery.broadcast.broadcast()` do.
    immediate_broadcast = True
    # ForeignKeys whose target decides who may see this model's objects,
    # each with the target's fields that matter, e.g.
    # {"topic": ["is_private", "owner"]}: when a topic's privacy or owner
    # changes, its comments leave (or enter) what each subscriber sees.
    visibility_depends_on: dict[str, Sequence[str]] = {}

    # --- Presence (PROTOCOL.md "Presence") ----------------------------------
    # True: sockets may `join` and `leave` this stream's objects, hear who
    # else is there, and `signal` them ("typing..."). Joining is a `retrieve`.
    presence = False

    def __init__(
        self,
        adapter: ViewAdapter,
        scope: dict[str, Any] | None = None,
        http_scope: dict[str, Any] | None = None,
    ) -> None:
        self.adapter = adapter
        self.scope = scope if scope is not None else {}
        self.http_scope = http_scope or request_factory.http_scope(self.scope)
        self.request: Request | None = None  # The DRF request, set by initial().
        # The view, set by initial(): whichever DRF view `view` names.
        self.view_instance: Any = None
        # The serializer of render(), built once.
        self._serializer: BaseSerializer[Any] | None = None

    # --- The request --------------------------------------------------------

    def initial(
        self,
        route: str = "list",
        lookup: str | None = None,
        query: str = "",
        check: bool = True,
    ) -> None:
        """Build this request's view and DRF request, then run the view's checks.

        The request is a GET of `route` ("list", or "detail" as `retrieve`
        sees it). The checks are the view's own `initial()`: authentication,
        permissions and throttles. `check=False` skips them, for evaluating
        events (a delivered event must not count against a throttle).
        """
        django_request = self.build_request("GET", lookup, query)
        kwargs = self.lookup_kwargs(lookup)
        function = self.adapter.read_function(route)
        self.view_instance, self.request = build_view(function, django_request, kwargs)
        if check:
            self.view_instance.initial(self.request, **kwargs)

    @contextmanager
    def refusals(self) -> Iterator[None]:
        """Turn the view's exceptions into `Refused`, answered as DRF would."""
        try:
            yield
        except Exception as exc:
            view = self.view_instance
            if view is None:
                raise
            response = view.finalize_response(self.request, view.handle_exception(exc))
            raise Refused(*render_response(response)) from None

    def build_request(
        self,
        method: str,
        lookup: str | None = None,
        query: str = "",
        body: bytes = b"",
        action: Action | None = None,
    ) -> HttpRequest:
        """Return the Django request for `method` on this stream's HTTP twin.

        `action` (an Action): an @action's request goes to its own URL.
        """
        request = request_factory.build_request(
            self.http_scope,
            method.upper(),
            self.adapter.path(lookup, action),
            query=query,
            body=body,
        )
        self.perform_authentication(request)
        return request

    def lookup_kwargs(self, lookup: str | None) -> dict[str, str]:
        return {self.adapter.lookup_url_kwarg: lookup} if lookup is not None else {}

    # --- Hooks: override these ----------------------------------------------

    def perform_authentication(self, request: HttpRequest) -> None:
        """Give the Django request its user and session from the socket's scope.

        The view's own authentication classes then see what they would see
        over HTTP: the session's user, or the handshake's `Authorization`
        header (realtime_api/auth/handshake.py). Override to authenticate some
        other way.
        """
        request.user = self.scope.get("user") or AnonymousUser()
        session = self.scope.get("session")
        if session is not None:
            request.session = session
        credentials = self.scope.get("realtime_credentials")
        if credentials is not None:
            credentials.authenticate(request, self.view)

    def get_queryset(self) -> QuerySet[Any]:
        """Return the objects this socket's user may see: the view's queryset."""
        queryset: QuerySet[Any] = self.view_instance.get_queryset()
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        """Return the serializer of events and subscription fields."""
        if self.serializer_class is not None:
            return self.serializer_class
        serializer_class: type[BaseSerializer[Any]]
        serializer_class = self.view_instance.get_serializer_class()
        return serializer_class

    def get_serializer(self, *args: Any, **kwargs: Any) -> BaseSerializer[Any]:
        """Return a serializer with the view's context (its request and user)."""
        kwargs.setdefault("context", self.view_instance.get_serializer_context())
        return self.get_serializer_class()(*args, **kwargs)

    def get_group_names(self, obj: Model) -> Iterable[str]:
        """Return the groups a change to `obj` is published to.

        Called when `obj` is saved or deleted, with no request. Override to
        add wider groups (e.g. its topic's), and `get_subscription_groups()`
        to let subscriptions join them.
        """
        return [self.object_group(obj.pk)]

    def get_subscription_groups(self, subscription: Subscription) -> Iterable[str]:
        """Return the groups a subscription joins: the matched objects' own.

        Override to join wider groups for some filters, e.g. a topic's group
        for `{"topic": 3}`, so that objects created later are heard of too.
        `subscription.data` holds the validated filter by payload key.
        """
        return {self.object_group(pk) for pk in subscription.matched}

    def get_visibility_key(self) -> str:
        """Return a key shared by sockets that see the same objects, the same way.

        Events are evaluated and rendered once per key and change. The
        default is one key per user; override to share more (e.g. one key
        for all anonymous users) only where representations do not differ.
        """
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return "anonymous"
        return f"user-{user.pk}"

    def get_presence_member(
        self, user: AbstractBaseUser | AnonymousUser | None
    ) -> dict[str, Any] | None:
        """Return how `user` appears to the others present, or None to refuse.

        The default: `{"id": pk, "name": username}`, and None (a 403) for an
        anonymous user, since presence shows who is there. Override to show a
        display name; keep "id" and "name", and add what clients need.
        """
        if user is None or not user.is_authenticated:
            return None
        return {"id": user.pk, "name": user.get_username()}

    def get_deleted_data(self, obj: Model) -> dict[str, Any]:
        """Return the `data` of a delete event: the pk, and the lookup field."""
        data: dict[str, Any] = {"id": obj.pk}
        lookup_field = self.lookup_field or cast(
            str, getattr(self.view, "lookup_field", "pk")
        )
        if lookup_field not in ("pk", "id", obj._meta.pk.name):
            data[lookup_field] = getattr(obj, lookup_field)
        deleted: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return deleted

    def object_group(self, pk: object) -> str:
        """The group of one object: `<stream>-<pk>`."""
        return f"{self.stream}-{pk}"

    # --- Actions: what the socket calls -------------------------------------

    def dispatch(
        self,
        action: str,
        lookup: str | None,
        payload: dict[str, Any],
        method: str | None = None,
    ) -> tuple[int, str]:
        """Run the view for an action with an HTTP twin; return (status, data JSON).

        `action` names a built-in action or one of the view's @actions;
        `method` picks one of its HTTP methods (default: the first mapped).
        """
        entry = self.adapter.actions[action]
        self.check_lookup(action, lookup)
        method = method or entry.default_method
        # Actions without an HTTP method (subscribe, unwatch...) never come here.
        assert method is not None
        sent_as = entry.payload_for(method)
        query = request_factory.query_string(payload) if sent_as == QUERY else ""
        body = json.dumps(payload).encode() if sent_as == BODY else b""
        request = self.build_request(method, lookup, query, body, action=entry)
        view_function = self.adapter.function_for(entry)
        response = view_function(request, **self.lookup_kwargs(lookup))
        return render_response(response)

    def check_lookup(self, action: str, lookup: str | None) -> None:
        """Refuse a lookup where the action takes none, or none where it needs one."""
        if self.adapter.actions[action].detail:
            if lookup is None:
                raise ProtocolError(
                    400,
                    f"Action '{action}' needs a lookup: "
                    f"'{self.stream}/{action}/<lookup>/'.",
                )
        elif lookup is not None:
            raise ProtocolError(400, f"Action '{action}' takes no lookup.")
        if lookup is not None and not self.adapter.lookup_matches(lookup):
            # Over HTTP no URL would match: the router's answer is a 404.
            raise ProtocolError(404, "Not found.")

    def subscribe(self, payload: dict[str, Any]) -> Subscription:
        """Check a subscription for this socket's user; return its Subscription.

        The view's authentication, permissions and throttles run as for a
        GET; a refusal or a bad filter raises `Refused`.
        """
        with self.refusals():
            self.initial()
            subscription = Subscription.parse(self, payload)
            subscription.groups = frozenset(self.get_subscription_groups(subscription))
        return subscription

    def presence_object(self, lookup: str, check: bool = True) -> Model:
        """Return the object to join, found as `retrieve` finds it for this user.

        The view's checks and `get_object()` run as for a GET of the object,
        so a refusal raises `Refused` with what `retrieve` answers (the same
        404 for an object that does not exist and one this user may not see).
        `check=False` skips the throttles, for checking again.
        """
        with self.refusals():
            self.initial(route="detail", lookup=lookup, check=check)
            obj: Model = self.view_instance.get_object()
            return obj

    def render(self, obj: Model) -> str:
        """Return `obj` as JSON text, as `retrieve` renders it for this user."""
        if self._serializer is None:
            self._serializer = self.get_serializer()
        return _renderer.render(self._serializer.to_representation(obj)).decode()

    def render_deleted(self, obj: Model) -> str:
        return dumps(self.get_deleted_data(obj))

    def get_watch_queryset(self, query: dict[str, Any]) -> QuerySet[Any]:
        """Return the objects of a watched `list` query, for this socket's user."""
        request = self.build_request("GET", query=request_factory.query_string(query))
        view, _ = build_view(self.adapter.functions["list"], request, {})
        queryset: QuerySet[Any] = view.filter_queryset(view.get_queryset())
        return queryset
