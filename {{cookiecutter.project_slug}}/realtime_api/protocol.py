"""Parse request frames and build response frames, as PROTOCOL.md says."""

import json
from dataclasses import dataclass, field
from typing import Any

from realtime_api.streams.actions import BUILTIN_ACTIONS

# The protocol's own actions; a stream adds its view's @actions (actions.py).
ACTIONS = tuple(BUILTIN_ACTIONS)
ACTIONS_WITH_LOOKUP = frozenset(
    name
    for name, action in BUILTIN_ACTIONS.items()
    if action.kind == "rest" and action.detail
)
# A frame about the socket's own credentials, not a stream's: it has no
# action (realtime_api/auth/reauthenticate.py).
REAUTHENTICATE = "reauthenticate"
# The HTTP methods a frame's "method" may name (an @action mapped to several).
METHODS = ("get", "post", "put", "patch", "delete")


def dumps(data: Any) -> str:
    """Encode JSON the way DRF's JSONRenderer does (compact, UTF-8)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class ProtocolError(Exception):
    """A request the protocol refuses: answered with `status` and `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(slots=True)
class RequestFrame:
    """What a client asked for; fields stay None until parsed."""

    stream: str | None = None
    action: str | None = None
    lookup: str | None = None
    payload: dict = field(default_factory=dict)
    request_id: str | int | None = None
    since: int | None = None  # subscribe: the seq of the last event received
    method: str | None = None  # an action mapped to several HTTP methods: which
    status: int | None = None  # the status answered, once the response is built


def parse_request(text, frame, bound_stream=None):
    """Fill `frame` from a text frame, raising ProtocolError on bad input.

    The frame is filled as parsing goes, so that an error response can still
    echo the request_id, stream and action that were understood.
    """
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(400, f"The frame is not valid JSON: {exc}.") from None
    except RecursionError:
        raise ProtocolError(400, "The frame's JSON is nested too deeply.") from None
    if not isinstance(content, dict):
        raise ProtocolError(400, "A request frame must be a JSON object.")

    request_id = content.get("request_id")
    if request_id is not None and (
        isinstance(request_id, bool)
        or not isinstance(request_id, str | int)
        or not _valid_unicode(request_id)
    ):
        raise ProtocolError(400, "request_id must be a string or an integer.")
    frame.request_id = request_id
    if not _valid_unicode(text, content):
        raise ProtocolError(
            400,
            "The frame holds an unpaired surrogate (\\ud800 to \\udfff): "
            "strings must be valid Unicode.",
        )

    _parse_stream(content, frame, bound_stream)

    payload = content.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ProtocolError(400, "payload must be a JSON object.")
    frame.payload = payload

    since = content.get("since")
    if since is not None and (
        isinstance(since, bool) or not isinstance(since, int) or since < 0
    ):
        raise ProtocolError(
            400, "since must be the seq (an integer >= 0) of the last event received."
        )
    frame.since = since

    method = content.get("method")
    if method is not None:
        if not isinstance(method, str) or method.lower() not in METHODS:
            raise ProtocolError(
                400, f"method must be one of: {', '.join(map(repr, METHODS))}."
            )
        method = method.lower()
    frame.method = method
    return frame


def _valid_unicode(text, content=None):
    """False when a string holds a lone surrogate, which UTF-8 cannot carry.

    A socket's text is valid UTF-8, but JSON may still escape one ("\\ud800")
    in `content`, the text parsed.
    """
    if not isinstance(text, str):
        return True
    try:
        text.encode()
        if content is not None and "\\ud" in text.lower():
            json.dumps(content, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse_stream(content, frame, bound_stream):
    stream = content.get("stream")
    if stream is None:
        if bound_stream is None:
            raise ProtocolError(
                400,
                'The frame has no "stream": send "stream": '
                '"<stream>/<action>/" or "<stream>/<action>/<lookup>/".',
            )
        stream = bound_stream
    if not isinstance(stream, str):
        raise ProtocolError(400, "stream must be a string.")
    if stream.rstrip("/") == REAUTHENTICATE:
        frame.stream = REAUTHENTICATE
        return

    parts = stream.rstrip("/").split("/")
    if "" in parts or len(parts) > 3:
        raise ProtocolError(
            400,
            f"Malformed stream {stream!r}: use '<stream>/<action>/' "
            "or '<stream>/<action>/<lookup>/'.",
        )
    frame.stream = parts[0]
    if len(parts) > 1:
        frame.action = parts[1]
        frame.lookup = parts[2] if len(parts) == 3 else None
    else:
        frame.action = _structured_action(content.get("action"))
        frame.lookup = _structured_lookup(content.get("lookup"))


def _structured_action(action):
    if action is None:
        raise ProtocolError(
            400, 'The frame has no action: add "action", or use "<stream>/<action>/".'
        )
    if not isinstance(action, str):
        raise ProtocolError(400, "action must be a string.")
    return action


def _structured_lookup(lookup):
    if lookup is None or lookup == "":
        return None
    if isinstance(lookup, bool) or not isinstance(lookup, str | int):
        raise ProtocolError(400, "lookup must be a string or an integer.")
    return str(lookup)


def response_frame(frame, status, data_json, **extra):
    """Build a response frame around `data_json`, JSON text rendered once."""
    frame.status = status
    head = {"type": "response", "stream": frame.stream, "action": frame.action}
    if frame.lookup is not None:
        head["lookup"] = frame.lookup
    head["request_id"] = frame.request_id
    head["status"] = status
    head.update(extra)
    return f'{dumps(head)[:-1]},"data":{data_json}}}'


def error_frame(frame, status, detail, **data):
    """Build the response frame of a refused request (`data`: more of its body)."""
    return response_frame(frame, status, dumps({"detail": detail, **data}))


def check_size(text, limit):
    """Refuse (413) a text frame of more than `limit` bytes in UTF-8."""
    # UTF-8 takes at most 4 bytes a character: encode only when it matters.
    if len(text) > limit or (
        len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit
    ):
        raise ProtocolError(413, f"The frame is larger than {limit} bytes.")


def event_frame(stream, action, data_json, seq, **extra):
    """Build an event frame around `data_json`, JSON text rendered once."""
    head = {"type": "event", "stream": stream, "action": action, **extra, "seq": seq}
    return f'{dumps(head)[:-1]},"data":{data_json}}}'


def presence_event_frame(stream, action, lookup, data_json):
    """Build a presence or signal event: no seq (never logged), the object's lookup."""
    head = {"type": "event", "stream": stream, "action": action, "lookup": lookup}
    return f'{dumps(head)[:-1]},"data":{data_json}}}'
