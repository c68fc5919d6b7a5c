"""JSON Schemas of PROTOCOL.md's frames, for the AsyncAPI document.

Pure functions and constants: asyncapi.py fills in each stream's bodies.
Server frames are described strictly (no undocumented keys); request frames
allow unknown keys, which the server ignores.
"""

from typing import Any

EVENT_SUMMARIES = {
    "events": "Changes to the objects of this socket's subscriptions, each "
    "authorized for the receiving user when it is delivered.",
    "watchEvents": "What enters, changes in and leaves a live query.",
    "presenceEvents": "Who arrives on and leaves an object this socket is "
    "present on, and the others' signals. Not logged: no seq.",
}
# Event message name -> (actions, data is just the id, carries a watch id).
SUBSCRIPTION_EVENTS = {
    "changeEvent": (["create", "update"], False, False),
    "deleteEvent": (["delete", "leave"], True, False),
}
WATCH_EVENTS = {
    "watchChangeEvent": (["enter", "update"], False, True),
    "watchLeaveEvent": (["leave"], True, True),
}
# Presence event message name -> (action, schema of its data).
MEMBER = {"$ref": "#/components/schemas/RealtimePresenceMember"}
PRESENCE_EVENTS = {
    "presenceEvent": (
        "presence",
        {
            "type": "object",
            "required": ["joined", "left"],
            "properties": {
                "joined": {"type": "array", "items": MEMBER},
                "left": {"type": "array", "items": MEMBER},
            },
            "additionalProperties": False,
        },
    ),
    "signalEvent": (
        "signal",
        {
            "type": "object",
            "required": ["from", "payload"],
            "properties": {
                "from": MEMBER,
                "payload": {"type": "object", "description": "As the sender sent it."},
            },
            "additionalProperties": False,
        },
    ),
}
SIGNAL_PAYLOAD = {
    "type": "object",
    "description": "Any object of at most 1024 bytes as JSON (413 above), "
    'e.g. {"typing": true}.',
}

REQUEST_ID = {
    "type": ["string", "integer"],
    "description": "Echoed in the response, to match answers to requests.",
}
OPTIONS_DATA = {
    "type": "object",
    "description": "The view's metadata (DRF's metadata_class).",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "renders": {"type": "array", "items": {"type": "string"}},
        "parses": {"type": "array", "items": {"type": "string"}},
        "actions": {"type": "object"},
    },
}


def detail(text):
    return {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"const": text}},
        "additionalProperties": False,
    }


FIXED_DATA = {
    "subscribe": {
        "type": "object",
        "required": ["detail", "matched"],
        "properties": {
            "detail": {"const": "subscribed"},
            "matched": {"type": "integer", "minimum": 0},
            "warning": {
                "type": "string",
                "description": "Present when the subscription can hear nothing.",
            },
        },
        "additionalProperties": False,
    },
    "unsubscribe": detail("unsubscribed"),
    "unwatch": detail("unwatched"),
    "join": {
        "type": "object",
        "required": ["members"],
        "properties": {
            "members": {
                "type": "array",
                "items": MEMBER,
                "description": "Every user present, once, the joining one too.",
            }
        },
        "additionalProperties": False,
    },
    "leave": detail("left"),
    "signal": detail("sent"),
}
UNWATCH_PAYLOAD = {
    "type": "object",
    "required": ["watch"],
    "properties": {"watch": {"type": "string", "description": "The watch's id."}},
}
# Keys of a success response frame besides the common ones, per action.
RESPONSE_EXTRAS = {
    "subscribe": {
        "resumed": {
            "type": "boolean",
            "description": "With `since`: whether the missed events follow.",
        },
        "reason": {
            "type": "string",
            "description": '"too old": reload, the events are gone; "too many '
            'changes": more than the server replays.',
        },
        "gap": {
            "type": "boolean",
            "description": "Not resumed: re-read the list, then subscribe "
            "without `since`.",
        },
    },
    "watch": {"watch": {"type": "string", "description": "The live query's id."}},
}

COMMON_SCHEMAS = {
    "RealtimePresenceMember": {
        "description": "A user present on an object, as the endpoint's "
        "get_presence_member() shows them.",
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": ["integer", "string"]},
            "name": {"type": "string"},
        },
    },
    "RealtimeErrorData": {
        "description": "The HTTP error body: `detail`, or a serializer's "
        "field errors; 429 adds `wait` (seconds).",
        "type": ["object", "array"],
        "properties": {
            "detail": {"type": "string"},
            "wait": {"type": ["number", "null"], "minimum": 0},
        },
    },
}
COMMON_MESSAGES = {
    "errorResponse": {
        "title": "Error response",
        "summary": "A refused request: the HTTP status and body it gets over "
        "HTTP, or a protocol error (400, 404, 405, 413, 503), or a limit of "
        "the socket (429: `wait` when over its frame rate).",
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/request_id"},
        "payload": {
            "type": "object",
            "required": ["type", "stream", "action", "request_id", "status", "data"],
            "properties": {
                "type": {"const": "response"},
                "stream": {"type": ["string", "null"]},
                "action": {"type": ["string", "null"]},
                "lookup": {"type": "string"},
                "request_id": {"type": ["string", "integer", "null"]},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "data": {"$ref": "#/components/schemas/RealtimeErrorData"},
            },
            "additionalProperties": False,
        },
    },
}


def request_frame(stream, action, payload, has_lookup, methods=()):
    """A request frame: the path form, or the structured form.

    `methods`: an @action mapped to several HTTP methods takes "method".
    """
    lookup = "[^/]+/?" if has_lookup else "?"
    structured = ["action", "lookup"] if has_lookup else ["action"]
    properties = {
        "stream": {"type": "string"},
        "action": {"type": "string"},
        "lookup": {"type": ["string", "integer", "null"]},
        "payload": {
            "anyOf": [payload, {"type": "null"}],
            "description": "Left out or null: {}.",
        },
        "request_id": REQUEST_ID,
    }
    if len(methods) > 1:
        properties["method"] = {
            "enum": list(methods),
            "description": f"The HTTP method to run it as; {methods[0]!r} by default.",
        }
    if action == "subscribe":
        properties["since"] = {
            "type": "integer",
            "minimum": 0,
            "description": "The seq of the last event received: resume after it.",
        }
    return {
        "type": "object",
        "properties": properties,
        "anyOf": [
            {
                "required": ["stream"],
                "properties": {
                    "stream": {"pattern": f"^{_escape(stream)}/{action}/{lookup}$"}
                },
            },
            {
                "description": "Structured form; `stream` may be left out on "
                "a socket bound to the stream.",
                "required": structured,
                "properties": {
                    "stream": {"const": stream},
                    "action": {"const": action},
                    # A detail action needs its lookup; null means none.
                    "lookup": {"type": ["string", "integer"]} if has_lookup else {},
                },
            },
        ],
    }


def response_frame(stream, action, statuses, data):
    """A success response frame of `action`."""
    properties = {
        "type": {"const": "response"},
        "stream": {"const": stream},
        "action": {"const": action},
        "lookup": {"type": "string"},
        "request_id": {"type": ["string", "integer", "null"]},
        "status": {"enum": statuses},
        "data": data,
        **RESPONSE_EXTRAS.get(action, {}),
    }
    required = ["type", "stream", "action", "request_id", "status", "data"]
    if action == "watch":
        required.append("watch")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def event_frame(stream, actions, data, watch):
    """An event frame: a subscription's, or a live query's (with its id)."""
    properties = {
        "type": {"const": "event"},
        "stream": {"const": stream},
        "action": {"enum": actions},
        "seq": {
            "type": "integer",
            "minimum": 1,
            "description": "Grows with every change on the stream; "
            "subscribe with `since` to resume after it.",
        },
        "data": data,
    }
    required = ["type", "stream", "action", "seq", "data"]
    if watch:
        properties["watch"] = {"type": "string", "description": "The live query."}
        required.append("watch")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def presence_event_frame(stream, action, data):
    """A presence or signal event: the object's lookup, and no seq."""
    return {
        "type": "object",
        "required": ["type", "stream", "action", "lookup", "data"],
        "properties": {
            "type": {"const": "event"},
            "stream": {"const": stream},
            "action": {"const": action},
            "lookup": {"type": "string", "description": "The object's lookup."},
            "data": data,
        },
        "additionalProperties": False,
    }


def query_payload(http_operation):
    """A `list` payload: the query parameters of the HTTP list."""
    properties = {}
    for parameter in http_operation.get("parameters", ()):
        if parameter.get("in") != "query":
            continue
        schema = json_schema(dict(parameter.get("schema", {})))
        # Sent as a query parameter: its text form reads the same.
        property_schema = {"anyOf": [schema, {"type": "string"}]}
        if parameter.get("description"):
            property_schema["description"] = parameter["description"]
        properties[parameter["name"]] = property_schema
    return {
        "type": "object",
        "description": "Query parameters, as the HTTP list reads them; "
        "others are ignored, as over HTTP.",
        "properties": properties,
    }


def subscription_payload(fields, endpoint_class):
    """A `subscribe` filter: serializer fields and mapping keys, one at least."""
    properties: dict[str, Any] = {
        name: {"anyOf": [schema, {"type": "array", "items": schema}]}
        for name, schema in fields.items()
    }
    for key, lookup in endpoint_class.subscription_field_mapping.items():
        properties[key] = {"description": f"Matched as the ORM lookup `{lookup}`."}
    return {
        "type": "object",
        "minProperties": 1,
        "properties": properties,
        "additionalProperties": False,
    }


# Keywords whose value is a schema, a list of schemas, or a map of them.
_SUBSCHEMA = frozenset({"items", "not", "additionalProperties", "contains"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs"})


def json_schema(schema):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` and `example` rewritten."""
    if not isinstance(schema, dict):
        return schema
    schema = dict(schema)
    for key, value in schema.items():
        if key in _SUBSCHEMA:
            schema[key] = json_schema(value)
        elif key in _SUBSCHEMA_LISTS:
            schema[key] = [json_schema(item) for item in value]
        elif key in _SUBSCHEMA_MAPS:
            schema[key] = {name: json_schema(item) for name, item in value.items()}
    if "example" in schema:
        schema["examples"] = [schema.pop("example")]
    if schema.pop("nullable", False):
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
        elif isinstance(kind, list):
            schema["type"] = [*kind, "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _escape(stream):
    """A stream name inside a regular expression (it has no other specials)."""
    return stream.replace(".", r"\.")


# The reauthenticate frame (PROTOCOL.md, "Present credentials"): about the
# socket, not a stream, so it has a channel of its own and no action.
REAUTHENTICATE_SUMMARY = (
    "Fresh credentials for this socket's user, before its own expire (the "
    "socket closes with 4001 at their expiry otherwise): 200 with the new "
    "expiry; 403 when invalid, expired or another user's (nothing changes); "
    "400 for a payload without `authorization`, or on a session-cookie socket."
)
REAUTHENTICATE_REQUEST = {
    "type": "object",
    "required": ["stream", "payload"],
    "properties": {
        "stream": {"type": "string", "pattern": "^reauthenticate/?$"},
        "payload": {
            "type": "object",
            "required": ["authorization"],
            "properties": {
                "authorization": {
                    "type": "string",
                    "minLength": 1,
                    "description": "An Authorization header value, e.g. "
                    '"Bearer <token>", checked by the project\'s DRF '
                    "authentication classes.",
                }
            },
        },
        "request_id": REQUEST_ID,
    },
}
REAUTHENTICATE_RESPONSE = {
    "type": "object",
    "required": ["type", "stream", "action", "request_id", "status", "data"],
    "properties": {
        "type": {"const": "response"},
        "stream": {"const": "reauthenticate"},
        "action": {"type": "null"},
        "request_id": {"type": ["string", "integer", "null"]},
        "status": {"const": 200},
        "data": {
            "type": "object",
            "required": ["expires_at"],
            "properties": {
                "expires_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the socket's credentials now expire "
                    "(ISO 8601, UTC); null: never.",
                }
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
