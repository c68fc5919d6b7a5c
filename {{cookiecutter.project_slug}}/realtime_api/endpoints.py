"""APIConsumer: one DRF view served as a stream of the WebSocket API."""

import json
import re

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import NoReverseMatch, reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.viewsets import ViewSetMixin

from . import requests, views
from .protocol import ACTIONS, ProtocolError

STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_renderer = JSONRenderer()


class APIConsumer:
    """Serve `view` (a DRF APIView or viewset) as `stream` on the socket.

    Not a Channels consumer: one instance handles one request, as a DRF view
    does, and `APIDemultiplexer` is the consumer that owns the socket.
    """

    # A DRF viewset (or APIView) class: the source of truth for everything.
    view = None
    # The first part of the stream path: "comments" in "comments/update/5/".
    stream = None
    # The model whose changes are broadcast; the view's queryset's model by
    # default. An endpoint with neither serves requests but no subscriptions.
    model = None
    # A whitelist of protocol actions; None allows what the view implements.
    allowed_actions = None
    # The field a deleted object's event names besides the pk; the view's
    # `lookup_field` by default.
    lookup_field = None
    # Serializes events and checks subscription fields; the view's by default.
    serializer_class = None
    # Subscription keys mapped to ORM lookups, e.g. {"ids": "pk__in"}.
    subscription_field_mapping = {}
    # True: every save and delete broadcasts after commit. False: only the
    # code's own calls to `realtime_api.broadcast.broadcast()` do.
    immediate_broadcast = True
    # The router's basename; the model's name by default.
    basename = None

    def __init__(self, scope=None, http_scope=None):
        self.scope = scope if scope is not None else {}
        self.http_scope = http_scope or requests.http_scope(self.scope)
        self.request = None  # The DRF request while a subscription is handled.

    # Configuration, checked and cached once per class ------------------------

    @classmethod
    def check(cls):
        """Raise ImproperlyConfigured when the endpoint cannot work."""
        name = cls.__qualname__
        if cls.view is None:
            raise ImproperlyConfigured(
                f"'{name}' should include a `view` attribute: a DRF view or viewset."
            )
        if not isinstance(cls.stream, str) or not STREAM_NAME.match(cls.stream):
            raise ImproperlyConfigured(
                f"'{name}' should include a `stream` attribute of 1 to 60 "
                f"letters, digits, '-', '_' or '.', not {cls.stream!r}."
            )
        unknown = set(cls.allowed_actions or ()) - set(ACTIONS)
        if unknown:
            raise ImproperlyConfigured(
                f"'{name}'.allowed_actions names unknown actions: "
                f"{', '.join(sorted(unknown))}. Use some of: {', '.join(ACTIONS)}."
            )

    @classmethod
    def get_model(cls):
        """Return the model whose changes this endpoint broadcasts, if any."""
        if cls.model is not None:
            return cls.model
        queryset = getattr(cls.view, "queryset", None)
        return queryset.model if queryset is not None else None

    @classmethod
    def is_viewset(cls):
        return issubclass(cls.view, ViewSetMixin)

    @classmethod
    def get_basename(cls):
        """Return the router's basename for the view (it names its routes)."""
        model = cls.get_model()
        if cls.basename or model is None:
            return cls.basename
        return model._meta.object_name.lower()

    @classmethod
    def get_view_function(cls, route):
        """Return the view function for "list" or "detail", built once."""
        cache = cls.__dict__.get("_view_functions")
        if cache is None:
            cache = {}
            cls._view_functions = cache
        if route not in cache:
            if cls.is_viewset():
                func = views.viewset_function(cls.view, route, cls.get_basename())
            else:
                func = cls.view.as_view()
            cache[route] = func and views.atomic_if_configured(func)
        return cache[route]

    @classmethod
    def implements(cls, action):
        """Tell whether the view implements the HTTP twin of `action`."""
        if action in ("subscribe", "unsubscribe"):
            readable = cls.implements("list") or cls.implements("retrieve")
            return readable and cls.get_model() is not None
        if action in ("watch", "unwatch"):
            return cls.implements("list") and cls.get_model() is not None
        route, method, viewset_action = views.ACTION_ROUTES[action]
        if cls.is_viewset():
            return cls.get_view_function(route) is not None and (
                action == "options" or hasattr(cls.view, viewset_action)
            )
        return method in cls.view.http_method_names and hasattr(cls.view, method)

    @classmethod
    def get_allowed_actions(cls):
        """Return the actions this endpoint serves (computed once)."""
        cached = cls.__dict__.get("_allowed_actions")
        if cached is None:
            wanted = cls.allowed_actions or ACTIONS
            cached = frozenset(a for a in wanted if cls.implements(a))
            cls._allowed_actions = cached
        return cached

    @classmethod
    def get_lookup_url_kwarg(cls):
        return getattr(cls.view, "lookup_url_kwarg", None) or getattr(
            cls.view, "lookup_field", "pk"
        )

    # Requests -----------------------------------------------------------------

    def perform_authentication(self, request):
        """Give the Django request its user and session; override for tokens.

        The default takes them from the scope (AuthMiddlewareStack), so that the
        view's own authentication classes see what they would see over HTTP.
        """
        request.user = self.scope.get("user") or AnonymousUser()
        session = self.scope.get("session")
        if session is not None:
            request.session = session

    def build_request(self, method, lookup=None, query="", body=b""):
        """Return the Django request for `method` on this stream."""
        path = self.get_path(lookup)
        request = requests.build_request(
            self.http_scope, method.upper(), path, query=query, body=body
        )
        self.perform_authentication(request)
        return request

    def get_path(self, lookup=None):
        """Return the path of the HTTP twin: the router's URL when it has one.

        The view builds links from it (pagination's `next`), so it must be the
        view's HTTP URL for the body to be the HTTP body (tests found
        "/comments/?page=2" where HTTP says "/api/comments/?page=2").
        """
        if lookup is None:
            # The same for every request: reversed once per class.
            path = type(self).__dict__.get("_list_path")
            if path is None:
                path = type(self)._list_path = self._reverse("list", {})
            return path
        return self._reverse("detail", {self.get_lookup_url_kwarg(): lookup})

    def _reverse(self, route, kwargs):
        try:
            return reverse(f"{self.get_basename()}-{route}", kwargs=kwargs)
        except NoReverseMatch:
            lookup = kwargs and f"{next(iter(kwargs.values()))}/"
            return f"/{self.stream}/{lookup or ''}"

    def check_lookup(self, action, lookup):
        """Refuse a lookup where the action takes none, or none where it needs one."""
        route = views.ACTION_ROUTES[action][0]
        if route == "detail" and lookup is None:
            raise ProtocolError(
                400,
                f"Action '{action}' needs a lookup: "
                f"'{self.stream}/{action}/<lookup>/'.",
            )
        if route == "list" and lookup is not None:
            raise ProtocolError(400, f"Action '{action}' takes no lookup.")
        regex = getattr(self.view, "lookup_value_regex", "[^/.]+")
        if lookup is not None and not re.fullmatch(regex, lookup):
            # Over HTTP no URL would match: the router's answer is a 404.
            raise ProtocolError(404, "Not found.")

    def dispatch(self, action, lookup, payload):
        """Run the view for a REST action; return (status, data JSON text)."""
        self.check_lookup(action, lookup)
        route, method, _ = views.ACTION_ROUTES[action]
        query, body = "", b""
        if action == "list":
            query = requests.query_string(payload)
        elif action in ("create", "update"):
            body = json.dumps(payload).encode()
        request = self.build_request(method, lookup, query=query, body=body)
        kwargs = {self.get_lookup_url_kwarg(): lookup} if lookup is not None else {}
        response = self.get_view_function(route)(request, **kwargs)
        return views.render_response(response)

    # Subscriptions ------------------------------------------------------------

    def subscription(self, payload):
        """Check and evaluate a subscription filter for this socket's user.

        Returns (groups, matched count, None), or (None, None, (status, data
        JSON text)) when the view or the filter refuses. The view's
        authentication, permissions and throttles run as for a GET.
        """
        route = "list" if self.get_view_function("list") else "detail"
        view, request = views.prepare_view(
            self.get_view_function(route), self.build_request("GET"), {}
        )
        self.view_instance, self.request = view, request

        def evaluate():
            filter = self.validate_filter(payload)
            try:
                groups = set(self.get_subscription_groups(filter))
                matched = self.get_subscription_queryset(filter).count()
            except (DjangoValidationError, ValueError, TypeError) as exc:
                raise views.SubscriptionError(
                    f"Invalid subscription filter {payload}: {_message(exc)}"
                ) from exc
            return groups, matched

        response, result = views.run_prepared(view, request, evaluate)
        if response is not None:
            return None, None, views.render_response(response)
        return (*result, None)

    def get_queryset(self):
        """Return the objects this socket's user may see: the view's queryset."""
        return self.view_instance.get_queryset()

    def get_serializer_class(self):
        """Return the serializer for events and subscription fields."""
        if self.serializer_class is not None:
            return self.serializer_class
        return self.view_instance.get_serializer_class()

    def validate_filter(self, payload):
        """Return the filter as ORM lookups, or raise a 400 naming the problem."""
        if not payload:
            raise views.SubscriptionError(
                'A subscription needs a filter, e.g. {"id": 5}; '
                "an empty payload would match nothing."
            )
        fields = self.get_serializer_class()(context={"request": self.request}).fields
        lookups = {}
        for key, value in payload.items():
            if key in self.subscription_field_mapping:
                lookups[self.subscription_field_mapping[key]] = value
            elif key in fields and fields[key].source != "*":
                lookup = fields[key].source.replace(".", "__")
                if isinstance(value, list):
                    lookup += "__in"
                lookups[lookup] = value
            else:
                known = sorted({*fields, *self.subscription_field_mapping})
                raise views.SubscriptionError(
                    f"Unknown subscription field '{key}'. "
                    f"Use one of: {', '.join(known)}."
                )
        return lookups

    def get_subscription_queryset(self, filter):
        """Return the objects a subscription matches now, for this user."""
        return self.get_queryset().filter(**filter)

    def get_subscription_groups(self, filter):
        """Return the groups a subscription joins; override for wider groups."""
        return {
            group
            for obj in self.get_subscription_queryset(filter)
            for group in self.get_group_names(obj)
        }

    # Live queries (watch) -----------------------------------------------------

    def get_visibility_key(self):
        """Return a key shared by users who see the same objects: one per user.

        Sockets watching the same query with the same key share its
        evaluation; override to share more (e.g. one key for all staff).
        """
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return "anonymous"
        return f"user-{user.pk}"

    def get_watch_query(self, payload):
        """Return the list payload without pagination: events cover the whole query."""
        paginator = getattr(self.view, "pagination_class", None)
        names = {
            getattr(paginator, attr, None)
            for attr in (
                "page_query_param",
                "page_size_query_param",
                "limit_query_param",
                "offset_query_param",
                "cursor_query_param",
            )
        }
        return {key: value for key, value in payload.items() if key not in names}

    def watch_snapshot(self, payload, with_members):
        """Answer the watch like `list`; return (status, data JSON, members).

        The members (pks of the whole query, unpaginated) are read only for a
        query that no other socket of this process watches yet.
        """
        status, data_json = self.dispatch("list", None, payload)
        members = None
        if status == 200 and with_members:
            query = self.get_watch_query(payload)
            members = set(self.get_watch_queryset(query).values_list("pk", flat=True))
        return status, data_json, members

    def get_watch_queryset(self, query):
        """Return the objects of a watched query for this socket's user."""
        request = self.build_request("GET", query=requests.query_string(query))
        view, _ = views.prepare_view(self.get_view_function("list"), request, {})
        return view.filter_queryset(view.get_queryset())

    def watch_matches(self, query, pk):
        """Tell whether the object `pk` is in the watched query now."""
        return self.get_watch_queryset(query).filter(pk=pk).exists()

    # Broadcasting -------------------------------------------------------------

    def get_group_names(self, obj):
        """Return the groups whose subscribers hear of changes to `obj`."""
        return [f"{self.stream}-{obj.pk}"]

    def get_deleted_data(self, obj):
        """Return the `data` of a delete event: the pk, and the lookup field."""
        data = {"id": obj.pk}
        lookup_field = self.lookup_field or getattr(self.view, "lookup_field", "pk")
        if lookup_field not in ("pk", "id", obj._meta.pk.name):
            data[lookup_field] = getattr(obj, lookup_field)
        return json.loads(json.dumps(data, default=str))

    def serialize(self, obj):
        """Return `obj` as JSON text, as the view's GET detail renders it."""
        data = self.get_event_serializer().to_representation(obj)
        return _renderer.render(data).decode()

    def get_event_serializer(self):
        """Return the serializer of events: built once per endpoint class.

        Building a serializer's fields costs more than using them, and events
        are rendered for no user in particular: every change reuses one
        serializer, its context an anonymous GET of the view. Override
        `serialize()` if your representation depends on the request.
        """
        cls = type(self)
        serializer = cls.__dict__.get("_event_serializer")
        if serializer is None:
            route = "detail" if self.get_view_function("detail") else "list"
            view, request = views.prepare_view(
                self.get_view_function(route), self.build_request("GET"), {}
            )
            self.view_instance, self.request = view, request
            serializer = self.get_serializer_class()(
                context=view.get_serializer_context()
            )
            cls._event_serializer = serializer
        return serializer


def _message(exc):
    if isinstance(exc, DjangoValidationError):
        return " ".join(exc.messages)
    return str(exc)
