"""The equal-work comparison's sockets: two dialects, three workloads.

Our stream and the bare consumer speak PROTOCOL.md; DCRF speaks its own
frames (`{"action": "create", "data": ..., "request_id": 1}`, answered with
`response_status`). A `Dialect` writes a request and reads an answer or an
event in one of them, so that W1, W2 and W3 below drive every column with
the same loop: what is measured is the server, not the translation.
"""

import asyncio
import itertools
import json
import time
from dataclasses import dataclass

from .client import BenchError, close_all, connect, connect_many
from .peer.names import DCRF_SUBSCRIBE_ACTION
from .workloads import Result, percentile, settled_rss, timed_creates


class Protocol:
    """PROTOCOL.md's frames: our stream's and the bare consumer's."""

    def request(self, stream, action, payload, request_id):
        path = f"{stream}/{action}/"
        return {"stream": path, "payload": payload, "request_id": request_id}

    def answer(self, frame):
        """(request_id, status, data) of a response frame, else None."""
        if frame.get("type") != "response":
            return None
        return frame.get("request_id"), frame.get("status"), frame.get("data")

    def event(self, frame):
        """The data of a create event, else None."""
        if frame.get("type") == "event" and frame.get("action") == "create":
            return frame.get("data")
        return None


class Dcrf:
    """DCRF 1.3's frames (bench/peer/dcrf.py's consumer)."""

    def request(self, stream, action, payload, request_id):
        if action == "create":
            return {"action": "create", "data": payload, "request_id": request_id}
        if action == "subscribe":
            frame = {"action": DCRF_SUBSCRIBE_ACTION, "request_id": request_id}
            return {**payload, **frame}
        raise ValueError(f"The DCRF column does not {action}.")

    def answer(self, frame):
        if "response_status" not in frame:
            return None
        return frame.get("request_id"), frame["response_status"], frame.get("data")

    def event(self, frame):
        # An event is the observer's reply to the subscription: status 200
        # where a create's own answer is 201.
        if frame.get("action") == "create" and frame.get("response_status") == 200:
            return frame.get("data")
        return None


@dataclass(frozen=True)
class Column:
    """One server of the comparison: where it is and how it speaks."""

    name: str
    url: str
    stream: str  # The stream PROTOCOL.md addresses (DCRF's socket has one).
    dialect: Protocol | Dcrf


_request_ids = itertools.count(1)


async def ask(ws, column, action, payload, status):
    """Send one request; return its answer's data (BenchError unless `status`)."""
    request_id = next(_request_ids)
    frame = column.dialect.request(column.stream, action, payload, request_id)
    await ws.send(json.dumps(frame))
    while True:
        answer = column.dialect.answer(json.loads(await ws.recv()))
        if answer is None or answer[0] != request_id:
            continue  # An event, or a late answer to someone else.
        if answer[1] != status:
            raise BenchError(
                f"{column.name} ({column.url}): {action} answered {answer[1]}, "
                f"not {status}: {json.dumps(answer[2])[:300]}"
            )
        return answer[2]


def comment(topic, i):
    """The same comment for every column: the sample's and the peer's alike."""
    return {"topic": topic, "text": f"bench {i}"}


async def creates(column, target, topic, count, sockets, advance):
    """W1: `count` creates over `sockets` sockets, each awaiting its answer,
    and the server's CPU time per create (with its pid)."""
    conns = [await connect(column.url, target) for _ in range(sockets)]
    try:
        for ws in conns:  # Warm up each socket.
            await ask(ws, column, "create", comment(topic, -1), 201)

        async def create(ws, i):
            await ask(ws, column, "create", comment(topic, i), 201)

        return await timed_creates(conns, create, count, target, advance)
    finally:
        await close_all(conns)


async def fanout(column, target, topic, subscribers, events, advance):
    """W2: `subscribers` sockets follow one topic while another socket makes
    `events` creates in it; every subscriber must hear every create."""
    subs = await connect_many(column.url, target, subscribers, lambda n: None)
    writer = await connect(column.url, target)
    listeners = []
    try:
        await asyncio.gather(
            *(ask(ws, column, "subscribe", {"topic": topic}, 200) for ws in subs)
        )
        arrivals = []  # (object id, time), one per event a subscriber heard

        async def listen(ws):
            heard = 0
            while heard < events:
                data = column.dialect.event(json.loads(await ws.recv()))
                if data is not None:
                    arrivals.append((data.get("id"), time.perf_counter()))
                    heard += 1
                    advance(1)

        listeners = [asyncio.create_task(listen(ws)) for ws in subs]
        sent_at = {}
        started = time.perf_counter()
        for i in range(events):
            before = time.perf_counter()
            payload = comment(topic, i)
            data = await ask(writer, column, "create", payload, 201)
            sent_at[data["id"]] = before
        # Whatever has not arrived 10 s after the last create is missing.
        await asyncio.wait(listeners, timeout=10)
    finally:
        for listener in listeners:
            listener.cancel()
        await close_all([writer, *subs])
    latencies = [at - sent_at[key] for key, at in arrivals if key in sent_at]
    last = max((at for key, at in arrivals if key in sent_at), default=started)
    rate = len(latencies) / (last - started) if latencies else 0.0
    return Result(
        rate,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        missing=subscribers * events - len(latencies),
    )


async def hold_idle(url, target, count, advance):
    """W3: open `count` sockets; return them and the server's RSS growth per
    socket in KiB (None without the server's pid)."""
    before = await settled_rss(target.server_pid)
    sockets = await connect_many(url, target, count, advance)
    after = await settled_rss(target.server_pid)
    if before is None or after is None:
        return sockets, None
    return sockets, (after - before) / count / 1024
