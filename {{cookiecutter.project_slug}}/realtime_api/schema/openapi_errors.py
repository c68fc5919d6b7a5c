"""The error responses of every operation in the OpenAPI schema.

drf-spectacular documents what a view answers when all goes well; a client
generator then types every error as impossible. This postprocessing hook
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds, to every operation that
does not say otherwise, the errors DRF answers with, in DRF's own shapes:

- 400 where there is input: a request body (DRF's validation errors, field
  name -> messages, or {"detail"} for a body that does not parse) or query
  parameters (a filter that rejects a value, e.g. `?topic=<unknown id>`);
- 401 and 403 everywhere: bad or missing credentials, or no permission
  ({"detail"}); which of the two depends on the authentication classes;
- 404 where a path names an object, or a `page` parameter pages the list
  (`?page=0` or past the last page: "Invalid page.");
- 429 everywhere: throttled ({"detail"}, and over the WebSocket `wait`, the
  seconds to wait; over HTTP, DRF sends them in Retry-After).

It is generic: it reads the operations, not the views, so an @action or a
new viewset is covered without a line of its own. An operation that
documents one of these codes itself (extend_schema(responses=...)) keeps its
own. Pages are also described as starting at 1 (`minimum: 1`).
"""

ERROR_DETAIL = {
    "type": "object",
    "description": "An error with one message (DRF's `detail`).",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "DRF's validation errors: each invalid field (or `non_field_errors`) "
        "with its messages; a nested serializer's errors nest the same way."
    ),
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {}},
            {"type": "object"},
            {"type": "string"},
        ]
    },
}

THROTTLED = {
    "type": "object",
    "description": "Too many requests: try again later.",
    "properties": {
        "detail": {"type": "string"},
        "wait": {
            "type": "number",
            "description": "Seconds to wait (over the WebSocket; HTTP: Retry-After).",
        },
    },
    "required": ["detail"],
}

SCHEMAS = {
    "ErrorDetail": ERROR_DETAIL,
    "ValidationError": VALIDATION_ERROR,
    "Throttled": THROTTLED,
}

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description, schema):
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _errors(operation, path_parameters):
    """{status: response} that this operation can answer besides its own."""
    parameters = [*path_parameters, *operation.get("parameters", [])]
    query = [p for p in parameters if p.get("in") == "query"]
    in_path = any(p.get("in") == "path" for p in parameters)
    pages = any(p.get("name") == "page" for p in query)
    errors = {}
    if "requestBody" in operation or query:
        errors["400"] = _json(
            "Invalid input: DRF's validation errors (field -> messages), a body "
            "that does not parse, or a query parameter a filter rejects.",
            {"anyOf": [_ref("ValidationError"), _ref("ErrorDetail")]},
        )
    errors["401"] = _json("Not authenticated, or bad credentials.", _ref("ErrorDetail"))
    errors["403"] = _json(
        "Not allowed: no permission, or (with session authentication "
        "first) not authenticated.",
        _ref("ErrorDetail"),
    )
    if in_path or pages:
        errors["404"] = _json(
            "Not found: no such object (or not one you may see), or a page "
            'out of range (`?page=0`, or past the last: "Invalid page."). '
            "A path that matches no route at all (`/api/topics/1.5/`) gets "
            "Django's own 404 page, in HTML.",
            _ref("ErrorDetail"),
        )
        errors["404"]["content"]["text/html"] = {"schema": {"type": "string"}}
    errors["429"] = _json("Throttled.", _ref("Throttled"))
    return errors


def _pages_start_at_one(operation):
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("name") == "page" and schema.get("type") == "integer":
            schema.setdefault("minimum", 1)


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the errors to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in SCHEMAS.items():
        schemas.setdefault(name, schema)
    for path_item in result.get("paths", {}).values():
        path_parameters = path_item.get("parameters", [])
        for method in METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            _pages_start_at_one(operation)
            responses = operation.setdefault("responses", {})
            for status, response in _errors(operation, path_parameters).items():
                responses.setdefault(status, response)
    return result
