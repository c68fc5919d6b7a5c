"""The frames on the wire (PROTOCOL.md): request frames out, responses checked."""

import json

from .errors import RequestError


def request_frame(stream, action, lookup=None, payload=None, since=None):
    """A request frame: the path form, or the structured one for odd lookups."""
    frame = {"payload": payload or {}}
    if lookup is None:
        frame["stream"] = f"{stream}/{action}/"
    elif "/" not in str(lookup):
        frame["stream"] = f"{stream}/{action}/{lookup}/"
    else:
        frame.update(stream=stream, action=action, lookup=str(lookup))
    if since is not None:
        frame["since"] = since
    return frame


def checked(frame):
    """Return a success response frame; raise RequestError for an error one."""
    status = frame.get("status")
    if isinstance(status, int) and status >= 400:
        data = frame.get("data")
        detail = (
            f": {data['detail']}" if isinstance(data, dict) and "detail" in data else ""
        )
        where = f"{frame.get('stream')}/{frame.get('action')}"
        raise RequestError(f"{where} answered {status}{detail}", frame)
    return frame


def stable_json(value):
    """JSON with sorted keys: the same filter in another key order is the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
