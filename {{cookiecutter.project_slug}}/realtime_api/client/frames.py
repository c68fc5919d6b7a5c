"""The frames on the wire (PROTOCOL.md): request frames out, responses back.

A response names its request by `request_id`; PendingRequests gives the ids
and hands each response to whoever waits for it.
"""

import asyncio
import itertools
import json

from .errors import RequestError


def request_frame(stream, action, lookup=None, payload=None, since=None, method=None):
    """A request frame: the path form, or the structured one for odd lookups.

    `action` is any action of the stream, its view's @actions included
    ("close"); `method` picks one of an @action's HTTP methods ("put").
    """
    frame = {"payload": payload or {}}
    if lookup is None:
        frame["stream"] = f"{stream}/{action}/"
    elif "/" not in str(lookup):
        frame["stream"] = f"{stream}/{action}/{lookup}/"
    else:
        frame.update(stream=stream, action=action, lookup=str(lookup))
    if since is not None:
        frame["since"] = since
    if method is not None:
        frame["method"] = method
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


class PendingRequests:
    """The requests sent on the socket, each waiting for its response.

    A response goes to a future (a request: its caller awaits it) or to a
    function (a subscribe, watch or join frame: answered at once, in the
    task that reads the socket, before the events that follow it).
    """

    def __init__(self):
        self._ids = itertools.count(1)
        self._waiting = {}  # request_id -> future of its response frame, or function

    def add(self, frame, on_answer=None):
        """Give `frame` a request_id; return the future of its response.

        With `on_answer`, that function is called with the response instead.
        """
        request_id = frame["request_id"] = f"p{next(self._ids)}"
        answer = on_answer or asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        return answer

    def discard(self, request_id):
        """Stop waiting: the request was not sent, or its answer was taken."""
        self._waiting.pop(request_id, None)

    def answer(self, frame):
        """Hand a response frame to what waits for it (nothing: ignore it)."""
        answer = self._waiting.pop(frame.get("request_id"), None)
        if isinstance(answer, asyncio.Future):
            if not answer.done():
                answer.set_result(frame)
        elif answer is not None:
            answer(frame)

    def socket_closed(self, code):
        """Fail the requests sent on a socket that closed; wait for none of them.

        A subscribe, watch or join (a function) is sent again on the next
        socket; a request is not: it may have been carried out.
        """
        waiting, self._waiting = self._waiting, {}
        for answer in waiting.values():
            if isinstance(answer, asyncio.Future) and not answer.done():
                message = f"The connection closed (code {code}) first."
                answer.set_exception(RequestError(message))

    def fail(self, failure):
        """Every request still waiting raises `failure`: the client stopped."""
        for answer in self._waiting.values():
            if isinstance(answer, asyncio.Future) and not answer.done():
                answer.set_exception(failure)
