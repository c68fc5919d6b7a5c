"""W5, presence: a join storm on one object, then signals to everyone present.

`sockets` sockets, each logged in as a different user, join the parent
object's presence at once. Measured: each join's round trip, the storm's
time until every socket knows every user (its join response, then the
"joined" events), and, when the server's Redis is given, the Redis commands
the storm cost per join (INFO commandstats before and after). Then one
socket sends `signals` signals, one at a time, and each of the others must
receive each: the time from sending to receiving.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field

import redis.asyncio as redis

from .client import BenchError, close_all, connect_many
from .workloads import percentile

SETTLE_SECONDS = 30  # How long the storm may take to reach every socket.
SIGNAL_SECONDS = 5  # How long a signal may take to reach every socket.
VERBS = ("join", "signal", "leave")


@dataclass
class PresenceResult:
    joins: int
    storm_ms: float  # From the first join sent to the last socket knowing all.
    join_p50_ms: float | None
    join_p99_ms: float | None
    unsettled: int  # Sockets that never knew every user present.
    signals: int
    deliveries: int
    signal_rate: float  # Deliveries per second.
    signal_p50_ms: float | None
    signal_p99_ms: float | None
    undelivered: int
    redis_calls: dict = field(default_factory=dict)  # command -> calls per join


class Member:
    """One socket of the storm: reads every frame, keeps who it knows is there."""

    def __init__(self, ws):
        self.ws = ws
        self.members = set()
        self.answers = {}  # request_id -> future of the response
        self.signals = {}  # signal number -> time received
        self.heard = asyncio.Event()  # a signal arrived
        self.known = asyncio.Event()  # set once it knows `expected` members
        self.expected = 0
        self.reader = asyncio.create_task(self.read())

    async def request(self, path, payload, request_id):
        answer = self.answers[request_id] = asyncio.get_running_loop().create_future()
        frame = {"stream": path, "payload": payload, "request_id": request_id}
        await self.ws.send(json.dumps(frame))
        return await answer

    async def read(self):
        try:
            async for text in self.ws:
                self.received(json.loads(text), time.perf_counter())
        except Exception:  # The socket closed: what is missing shows as missing.
            pass

    def received(self, frame, at):
        if frame.get("type") == "response":
            answer = self.answers.pop(frame.get("request_id"), None)
            if answer is not None and not answer.done():
                answer.set_result(frame)
            if frame.get("action") == "join" and frame.get("status") == 200:
                self.members |= {m["id"] for m in frame["data"]["members"]}
        elif frame.get("action") == "presence":
            self.members |= {m["id"] for m in frame["data"]["joined"]}
            self.members -= {m["id"] for m in frame["data"]["left"]}
        elif frame.get("action") == "signal":
            self.signals[frame["data"]["payload"]["n"]] = at
            self.heard.set()
        if self.expected and len(self.members) >= self.expected:
            self.known.set()


async def redis_calls(url):
    """{command: calls} from the Redis server's INFO commandstats, or None."""
    if not url:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {
        name.removeprefix("cmdstat_"): values["calls"] for name, values in stats.items()
    }


async def presence(url, target, stream, lookup, sockets, signals, redis_url, advance):
    """Run W5 on the object `lookup` of `stream`; return a PresenceResult."""
    opened = await connect_many(url, target, sockets, advance, target.user_cookies)
    members = [Member(ws) for ws in opened]
    try:
        paths = {verb: f"{stream}/{verb}/{lookup}/" for verb in VERBS}
        return await storm_and_signals(members, paths, signals, redis_url)
    finally:
        for member in members:
            member.reader.cancel()
        await close_all(opened)


async def storm_and_signals(members, paths, signals, redis_url):
    count = len(members)
    for member in members:
        member.expected = count
    before = await redis_calls(redis_url)
    started = time.perf_counter()

    async def join(member):
        sent = time.perf_counter()
        reply = await member.request(paths["join"], {}, "join")
        if reply.get("status") != 200:
            raise BenchError(
                f"{paths['join']} answered {reply.get('status')}: "
                f"{json.dumps(reply.get('data'))[:300]}"
            )
        return time.perf_counter() - sent

    latencies = await asyncio.gather(*(join(member) for member in members))
    waiting = [asyncio.create_task(m.known.wait()) for m in members]
    _, pending = await asyncio.wait(waiting, timeout=SETTLE_SECONDS)
    for task in pending:
        task.cancel()
    storm = time.perf_counter() - started
    after = await redis_calls(redis_url)
    calls = {}
    if before is not None and after is not None:
        for name, total in after.items():
            if name != "info" and total > before.get(name, 0):
                calls[name] = (total - before.get(name, 0)) / count
    sender, receivers = members[0], members[1:]
    signal_latencies, deliveries, signal_time = await send_signals(
        sender, receivers, paths["signal"], signals
    )
    for member in members:  # Leave now: the next round starts from nobody.
        await member.request(paths["leave"], {}, "leave")
    return PresenceResult(
        joins=count,
        storm_ms=1000 * storm,
        join_p50_ms=percentile(latencies, 0.5),
        join_p99_ms=percentile(latencies, 0.99),
        unsettled=len(pending),
        signals=signals,
        deliveries=deliveries,
        signal_rate=deliveries / signal_time if signal_time else 0.0,
        signal_p50_ms=percentile(signal_latencies, 0.5),
        signal_p99_ms=percentile(signal_latencies, 0.99),
        undelivered=signals * len(receivers) - deliveries,
        redis_calls=calls,
    )


async def send_signals(sender, receivers, path, signals):
    """Send `signals` signals one at a time; return latencies, deliveries, time."""
    latencies, spent = [], 0.0
    for n in range(signals):
        while True:  # Wait out the server's signal rate (429) and send again.
            sent = time.perf_counter()
            reply = await sender.request(path, {"n": n, "typing": True}, f"s{n}")
            if reply.get("status") != 429:
                break
            await asyncio.sleep(reply["data"].get("wait") or 1)
        if reply.get("status") != 200:
            raise BenchError(f"{path} answered {reply.get('status')}: {reply}")
        deadline = sent + SIGNAL_SECONDS
        for receiver in receivers:
            while n not in receiver.signals and time.perf_counter() < deadline:
                receiver.heard.clear()
                try:
                    timeout = deadline - time.perf_counter()
                    await asyncio.wait_for(receiver.heard.wait(), max(timeout, 0))
                except TimeoutError:
                    break
        arrived = [r.signals[n] - sent for r in receivers if n in r.signals]
        latencies += arrived
        spent += max(arrived, default=0.0)
    return latencies, len(latencies), spent
