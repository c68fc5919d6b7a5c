"""Build the Django request that a WebSocket frame stands for.

The request is a real `ASGIRequest` built from the socket's handshake, so a
view sees the same headers, cookies, client address and host as over HTTP.
"""

import io
import json
from typing import Any
from urllib.parse import urlencode

from django.core.handlers.asgi import ASGIRequest

# Headers of the handshake that describe the body of an HTTP request, or the
# upgrade itself: the view must not see them.
_DROPPED_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"accept",
        b"connection",
        b"upgrade",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
    }
)
_SCHEMES = {"ws": "http", "wss": "https"}


def http_scope(websocket_scope: dict[str, Any]) -> dict[str, Any]:
    """Return the parts of an HTTP scope shared by every request of a socket."""
    headers = [
        (name, value)
        for name, value in websocket_scope.get("headers", [])
        if name.lower() not in _DROPPED_HEADERS
    ]
    headers.append((b"accept", b"application/json"))
    return {
        "type": "http",
        "scheme": _SCHEMES.get(websocket_scope.get("scheme", ""), "http"),
        "root_path": websocket_scope.get("root_path", ""),
        "client": websocket_scope.get("client"),
        "server": websocket_scope.get("server"),
        "headers": headers,
    }


def query_string(payload: dict[str, Any]) -> str:
    """Encode a `list` payload as query parameters (lists repeat the key)."""
    params: list[tuple[str, str]] = []
    for key, value in payload.items():
        values = value if isinstance(value, list) else [value]
        params.extend((key, _query_value(item)) for item in values)
    return urlencode(params)


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def build_request(
    base_scope: dict[str, Any],
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
) -> ASGIRequest:
    """Return an ASGIRequest for `method` and `path` (without a user yet)."""
    headers = list(base_scope["headers"])
    if body:
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        **base_scope,
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
    }
    request = ASGIRequest(scope, io.BytesIO(body))
    # A cookie or ticket handshake's Origin passed Django's own CSRF Origin
    # check (realtime_api/auth/origins.py): that stands for the CSRF token over a
    # socket; a header handshake carries no ambient credential.
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
    # Built for a socket: its handshake's wrong passwords are counted there
    # (auth/basic.py counts those of HTTP requests).
    request.realtime_socket = True  # type: ignore[attr-defined]
    return request
