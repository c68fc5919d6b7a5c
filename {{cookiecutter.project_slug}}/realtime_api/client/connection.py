"""Opening one authenticated socket (headers, ticket, Origin)."""

import inspect
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import HandshakeRefused

try:
    import websockets
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'realtime_api.client needs websockets: pip install -e ".[client]" '
        '(or pip install "websockets>=14").'
    ) from exc


async def open_socket(
    url: str,
    *,
    token: str | None = None,
    authorization: str | None = None,
    cookie: str | dict[str, str] | None = None,
    ticket: Any = None,
    origin: str | None = "auto",
    headers: dict[str, str] | None = None,
    open_timeout: float = 10,
    **options: Any,
) -> websockets.ClientConnection:
    """Open one WebSocket, authenticated; return the `websockets` connection.

    `options` go to `websockets.connect` (e.g. `ping_interval=None`).
    Raises HandshakeRefused when the server answers the upgrade with an
    HTTP error (`.temporary` for 429 and 503: retry after `.retry_after`).
    """
    request_headers = dict(headers or {})
    if token is not None:
        authorization = f"Token {token}"
    if authorization is not None:
        request_headers["Authorization"] = authorization
    if cookie:
        if isinstance(cookie, dict):
            cookie = "; ".join(f"{name}={value}" for name, value in cookie.items())
        request_headers["Cookie"] = cookie
    if ticket is not None:
        if callable(ticket):
            ticket = ticket()
            if inspect.isawaitable(ticket):
                ticket = await ticket
        url += ("&" if "?" in url else "?") + f"ticket={quote(ticket, safe='')}"
    if origin == "auto":
        # A header needs no Origin; a cookie or a ticket needs an allowed one.
        origin = None if authorization is not None else origin_of(url)
    options.setdefault("max_size", 2**24)
    try:
        return await websockets.connect(
            url,
            additional_headers=request_headers,
            origin=origin,  # type: ignore[arg-type]  # a str: websockets' Origin
            open_timeout=open_timeout,
            **options,
        )
    except websockets.InvalidStatus as refused:
        response = refused.response
        raise HandshakeRefused(
            response.status_code, response.body, response.headers.get("Retry-After")
        ) from None


def origin_of(url):
    """The Origin of a page served by the socket's own host."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme in ("wss", "https") else "http"
    return f"{scheme}://{parts.netloc}"
