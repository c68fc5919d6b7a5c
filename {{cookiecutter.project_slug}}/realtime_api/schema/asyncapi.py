"""The WebSocket API as an AsyncAPI 3.0 document, generated from the registry.

Each registered stream is a channel. Each action it allows is an operation
the server receives (the request frame), with the response frame as its
reply; its events are operations the server sends. The bodies come from
drf-spectacular's reading of each stream's view (serializers, filters,
pagination), the same reading as the OpenAPI schema's, so a frame's `data`
is described exactly as the HTTP body it is.

Served at /api/realtime/asyncapi.json; `manage.py realtime_schema` prints it.
"""

import copy
import re
from typing import Any

from django.conf import settings
from django.urls import re_path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import spectacular_settings

from realtime_api import conf
from realtime_api.schema import frame_schemas
from realtime_api.streams.actions import BODY
from realtime_api.streams.registry import get_registry

ASYNCAPI_VERSION = "3.0.0"
# Request bodies as their own components (no read-only fields to require),
# and nullable fields as JSON Schema writes them.
SPECTACULAR_PATCHES = {"COMPONENT_SPLIT_REQUEST": True, "OAS_VERSION": "3.1.0"}
SUCCESS_STATUSES = {"create": [201], "delete": [204]}


def build_document(
    registry: Any = None,
    request: Any = None,
    host: str | None = None,
    secure: bool | None = None,
) -> dict[str, Any]:
    """Return the AsyncAPI document (a dict) of `registry`'s streams.

    The server's host and scheme come from `request` (the HTTP request for
    the document), else from `host`/`secure`, else from the settings.
    """
    registry = registry or get_registry()
    if request is not None:
        host, secure = request.get_host(), request.is_secure()
    openapi = openapi_of(registry)
    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": info(),
        "defaultContentType": "application/json",
        "servers": {"api": server(host or conf.broadcast_host(), secure)},
        "channels": {},
        "operations": {},
        "components": {
            "schemas": {
                **{
                    name: frame_schemas.json_schema(schema)
                    for name, schema in openapi.get("components", {})
                    .get("schemas", {})
                    .items()
                },
                **frame_schemas.COMMON_SCHEMAS,
            },
            "messages": frame_schemas.COMMON_MESSAGES,
            "securitySchemes": security_schemes(),
        },
    }
    for adapter in registry:
        Stream(adapter, openapi).add_to(document)
    add_reauthenticate(document)
    return document


def add_reauthenticate(document):
    """The reauthenticate frame's channel: it names no stream (reauthenticate.py)."""
    path = conf.websocket_path()
    ref = {"$ref": "#/channels/reauthenticate"}
    messages = {
        "reauthenticateRequest": message(
            "reauthenticate request",
            frame_schemas.REAUTHENTICATE_REQUEST,
            correlated=True,
        ),
        "reauthenticateResponse": message(
            "reauthenticate response",
            frame_schemas.REAUTHENTICATE_RESPONSE,
            correlated=True,
        ),
        "error": {"$ref": "#/components/messages/errorResponse"},
    }
    document["channels"]["reauthenticate"] = {
        "address": f"/{path}",
        "title": "reauthenticate",
        "description": f"Frames about the socket's own credentials, on /{path} "
        f"and on /{path}<stream>/ alike.",
        "messages": messages,
    }
    channel_messages = "#/channels/reauthenticate/messages/"
    document["operations"]["reauthenticate"] = {
        "action": "receive",
        "channel": ref,
        "summary": frame_schemas.REAUTHENTICATE_SUMMARY,
        "messages": [{"$ref": f"{channel_messages}reauthenticateRequest"}],
        "reply": {
            "channel": ref,
            "messages": [
                {"$ref": f"{channel_messages}reauthenticateResponse"},
                {"$ref": f"{channel_messages}error"},
            ],
        },
    }


def openapi_of(registry):
    """drf-spectacular's OpenAPI schema of the streams' views (paths /<stream>/)."""
    patterns = []
    for adapter in registry:
        lookup = rf"(?P<{adapter.lookup_url_kwarg}>{adapter.lookup_value_regex})"
        if adapter.functions["list"] is not None:
            patterns.append(re_path(rf"^{adapter.stream}/$", adapter.functions["list"]))
        if adapter.functions["detail"] is not None:
            detail = re_path(
                rf"^{adapter.stream}/{lookup}/$", adapter.functions["detail"]
            )
            patterns.append(detail)
        for name, function in adapter.extra_functions.items():
            middle = f"{lookup}/" if adapter.actions[name].detail else ""
            # drf-spectacular writes the path as the regex reads: "-" unescaped.
            url_path = re.escape(name).replace("\\-", "-")
            route = rf"^{adapter.stream}/{middle}{url_path}/$"
            patterns.append(re_path(route, function))
    spectacular_settings.apply_patches(SPECTACULAR_PATCHES)
    try:
        return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    finally:
        spectacular_settings.clear_patches()


def info():
    title = spectacular_settings.TITLE or "Realtime API"
    return {
        "title": f"{title} (WebSocket)",
        "version": spectacular_settings.VERSION or "1.0.0",
        "description": (
            "The project's DRF API over one WebSocket, with live subscriptions "
            "(the wire protocol v1.2, realtime_api/PROTOCOL.md). Every request "
            "frame is answered by one response frame, in order: `status` and "
            "`data` are what the same request gets over HTTP. Open `/ws/` for "
            "every stream (frames name theirs), or `/ws/<stream>/` for one. "
            'Limits (PROTOCOL.md, "Limits and overload"): frames over the '
            "socket's rate are answered 429 with `wait`; too many frames "
            "waiting, subscriptions or watches, 429 naming the setting. Close "
            "codes: 4001 the user or session changed, or the socket's "
            "credentials expired (reconnect; send a `reauthenticate` frame "
            "before they expire to keep the socket), 4008 "
            "flooding after being told (reconnect later, slower), 4009 slow "
            "consumer (reconnect and resume with `since`)."
        ),
    }


def server(host, secure):
    return {
        "host": host,
        "protocol": "wss" if secure else "ws",
        "description": "The multiplexed socket is at /ws/.",
        "security": [
            {"$ref": f"#/components/securitySchemes/{name}"}
            for name in ("session", "authorization", "ticket")
        ],
    }


def security_schemes():
    return {
        "session": {
            "type": "httpApiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The Django session cookie, from a page whose Origin "
            "Django's CSRF check accepts for an unsafe request (the request's "
            "own scheme, host and port, or CSRF_TRUSTED_ORIGINS).",
        },
        "authorization": {
            "type": "httpApiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or a scheme the project adds), checked "
            "by DRF's authentication classes. No Origin needed; a wrong or "
            "revoked token refuses the handshake (HTTP 403).",
        },
        "ticket": {
            "type": "httpApiKey",
            "in": "query",
            "name": "ticket",
            "description": "A one-time ticket from POST /api/realtime/ticket/, "
            "from a page whose Origin Django's CSRF check accepts or is in "
            "REALTIME_API_ALLOWED_ORIGINS.",
        },
    }


class Stream:
    """One stream's channel, messages and operations."""

    def __init__(self, adapter, openapi):
        self.adapter = adapter
        self.name = adapter.stream
        self.openapi = openapi
        self.messages = {"error": {"$ref": "#/components/messages/errorResponse"}}
        self.operations = {}

    def add_to(self, document):
        for action in sorted(self.adapter.allowed_actions):
            self.add_action(action)
        if "subscribe" in self.adapter.allowed_actions:
            self.add_events("events", frame_schemas.SUBSCRIPTION_EVENTS)
        if "watch" in self.adapter.allowed_actions:
            self.add_events("watchEvents", frame_schemas.WATCH_EVENTS)
        if "join" in self.adapter.allowed_actions:
            self.add_presence_events()
        path = conf.websocket_path()
        document["channels"][self.name] = {
            "address": f"/{path}{self.name}/",
            "title": self.name,
            "description": (
                f"{self.view_description()} Served on /{path} (frames name the "
                f"stream) and on /{path}{self.name}/."
            ).strip(),
            "messages": self.messages,
        }
        document["operations"].update(self.operations)

    def view_description(self):
        doc = (self.adapter.view.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def ref(self, message):
        return {"$ref": f"#/channels/{self.name}/messages/{message}"}

    def channel_ref(self):
        return {"$ref": f"#/channels/{self.name}"}

    def add_action(self, action):
        entry = self.adapter.actions[action]
        payload = self.payload_schema(action)
        request = frame_schemas.request_frame(
            self.name, action, payload, entry.detail, entry.methods
        )
        statuses, data = self.success(action)
        response = frame_schemas.response_frame(self.name, action, statuses, data)
        self.messages[f"{action}Request"] = message(
            f"{self.name} {action} request", request, correlated=True
        )
        self.messages[f"{action}Response"] = message(
            f"{self.name} {action} response", response, correlated=True
        )
        self.operations[f"{self.name}.{action}"] = {
            "action": "receive",
            "channel": self.channel_ref(),
            "summary": entry.summary,
            "messages": [self.ref(f"{action}Request")],
            "reply": {
                "channel": self.channel_ref(),
                "messages": [self.ref(f"{action}Response"), self.ref("error")],
            },
        }

    def add_events(self, key, kinds):
        names = []
        for kind, (actions, deleted, watch) in kinds.items():
            data = self.deleted_schema() if deleted else self.object_schema()
            schema = frame_schemas.event_frame(self.name, actions, data, watch)
            self.messages[kind] = message(f"{self.name} {' or '.join(actions)}", schema)
            names.append(kind)
        summary = frame_schemas.EVENT_SUMMARIES[key]
        self.operations[f"{self.name}.{key}"] = {
            "action": "send",
            "channel": self.channel_ref(),
            "summary": summary,
            "messages": [self.ref(name) for name in names],
        }

    def add_presence_events(self):
        for name, (action, data) in frame_schemas.PRESENCE_EVENTS.items():
            schema = frame_schemas.presence_event_frame(self.name, action, data)
            self.messages[name] = message(f"{self.name} {action}", schema)
        self.operations[f"{self.name}.presenceEvents"] = {
            "action": "send",
            "channel": self.channel_ref(),
            "summary": frame_schemas.EVENT_SUMMARIES["presenceEvents"],
            "messages": [self.ref(name) for name in frame_schemas.PRESENCE_EVENTS],
        }

    # --- Bodies, from the OpenAPI operations of the HTTP twins --------------

    def http_operation(self, action, method=None):
        """The OpenAPI operation of `action`'s HTTP twin (by `method`, or its first)."""
        entry = self.adapter.actions[action]
        method = method or entry.default_method
        path = f"/{self.name}/"
        if entry.detail and entry.kind in ("rest", "extra", "presence"):
            path += "{}/"
        if entry.kind == "extra":
            path += f"{action}/"
        return self.paths().get(path, {}).get(method, {})

    def paths(self):
        """OpenAPI's paths with each parameter written `{}`: drf-spectacular
        names the lookup as it likes (`{id}` for a `pk` lookup)."""
        return {
            re.sub(r"\{[^}/]*\}", "{}", path): item
            for path, item in self.openapi["paths"].items()
        }

    def payload_schema(self, action):
        entry = self.adapter.actions[action]
        if entry.kind == "extra":
            return self.extra_payload_schema(entry)
        if action in ("list", "watch"):
            return frame_schemas.query_payload(self.http_operation("list"))
        if action in ("create", "update", "replace"):
            body = self.http_operation(action).get("requestBody", {})
            return json_body(body) or {"type": "object"}
        if action in ("subscribe", "unsubscribe"):
            return frame_schemas.subscription_payload(
                self.subscription_fields(), self.adapter.endpoint_class
            )
        if action == "unwatch":
            return frame_schemas.UNWATCH_PAYLOAD
        if action == "signal":
            return frame_schemas.SIGNAL_PAYLOAD
        return {"type": "object", "description": "Ignored: send {} or nothing."}

    def extra_payload_schema(self, entry):
        """An @action's payload, by method: its request body, or its query."""
        schemas = []
        for method in entry.methods:
            operation = self.http_operation(entry.name, method)
            if entry.payload_for(method) == BODY:
                body = json_body(operation.get("requestBody", {}))
                schemas.append(body or {"type": "object"})
            else:
                schemas.append(frame_schemas.query_payload(operation))
        return one_of(schemas)

    def success(self, action):
        """The success statuses of `action` and the schema of their `data`."""
        if action in frame_schemas.FIXED_DATA:
            return [200], frame_schemas.FIXED_DATA[action]
        entry = self.adapter.actions[action]
        if entry.kind == "extra":
            return self.extra_success(entry)
        route = "list" if action == "watch" else action
        responses = self.http_operation(route).get("responses", {})
        statuses = sorted(int(code) for code in responses if code.startswith("2"))
        statuses = statuses or SUCCESS_STATUSES.get(action, [200])
        if action == "delete":
            return statuses, {"type": "null"}
        if action == "options":
            return statuses, frame_schemas.OPTIONS_DATA
        for code in statuses:
            schema = json_body(responses.get(str(code), {}))
            if schema:
                return statuses, schema
        return statuses, {}

    def extra_success(self, entry):
        """An @action's success statuses and bodies, over all its methods."""
        statuses, schemas = set(), []
        for method in entry.methods:
            responses = self.http_operation(entry.name, method).get("responses", {})
            for code, response in responses.items():
                if code.startswith("2"):
                    statuses.add(int(code))
                    schemas.append(json_body(response) or {"type": "null"})
        return sorted(statuses) or [200], one_of(schemas) if schemas else {}

    def object_schema(self):
        """An object as `retrieve` renders it: the data of create/update events."""
        detail = self.http_operation("retrieve").get("responses", {})
        schema = json_body(detail.get("200", {}))
        if schema:
            return schema
        listed = json_body(
            self.http_operation("list").get("responses", {}).get("200", {})
        )
        resolved = self.resolve(listed or {})
        if resolved.get("type") == "array":
            return resolved.get("items", {"type": "object"})
        items = resolved.get("properties", {}).get("results", {}).get("items")
        return items or {"type": "object"}

    def deleted_schema(self):
        """The data of delete and leave events: the id (and the lookup field)."""
        properties = self.resolve(self.object_schema()).get("properties", {})
        id_schema = strip_read_only(
            properties.get("id", {"type": ["integer", "string"]})
        )
        return {
            "type": "object",
            "required": ["id"],
            "properties": {"id": id_schema},
        }

    def subscription_fields(self):
        """The serializer fields a filter may name, with their schemas."""
        properties = self.resolve(self.object_schema()).get("properties", {})
        names = serializer_field_names(self.adapter)
        if names is None:
            names = list(properties)
        return {name: strip_read_only(properties.get(name, {})) for name in names}

    def resolve(self, schema):
        ref = schema.get("$ref", "")
        match = re.fullmatch(r"#/components/schemas/(.+)", ref)
        if match:
            return self.openapi["components"]["schemas"].get(match.group(1), {})
        return schema


def serializer_field_names(adapter):
    """The fields `Subscription.parse` accepts (not source="*"), or None if unknown."""
    endpoint = adapter.endpoint_class
    serializer_class = endpoint.serializer_class or getattr(
        adapter.view, "serializer_class", None
    )
    if serializer_class is None:
        return None
    try:
        fields = serializer_class().fields
    except Exception:  # A serializer that needs its request to build its fields.
        return None
    return [name for name, field in fields.items() if field.source != "*"]


def json_body(content_holder):
    """The application/json schema of an OpenAPI request body or response."""
    schema = content_holder.get("content", {}).get("application/json", {})
    return frame_schemas.json_schema(copy.deepcopy(schema.get("schema", {})))


def one_of(schemas):
    """One schema, or `anyOf` the distinct ones."""
    distinct = []
    for schema in schemas:
        if schema not in distinct:
            distinct.append(schema)
    return distinct[0] if len(distinct) == 1 else {"anyOf": distinct}


def strip_read_only(schema):
    return {k: v for k, v in schema.items() if k != "readOnly"}


def message(title, payload, correlated=False):
    result = {"title": title, "contentType": "application/json", "payload": payload}
    if correlated:
        # A response echoes its request's request_id.
        result["correlationId"] = {"location": "$message.payload#/request_id"}
    return result
