"""`python -m bench --soak SECONDS`: hours of ordinary traffic, shortened.

Idle sockets are held; a writer creates at a steady pace; subscribers read
every event and, one after the other, reconnect and resume with `since`;
churners subscribe and unsubscribe, watch and unwatch. At the end every
subscriber must have received every create exactly once. The server's RSS
is sampled throughout: after a warm-up (the first quarter) it must not grow.

The figures: RSS over time and its growth after warm-up, events missing and
duplicated, resumes, errors (any unexpected answer or close).
"""

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import websockets

from .client import close_all, connect, connect_many, expect, request
from .scenario import fill
from .workloads import server_rss


@dataclass
class SoakReport:
    seconds: float
    creates: int = 0
    events: int = 0  # Create events received, all subscribers together.
    missing: int = 0
    duplicates: int = 0
    resumes: int = 0
    churns: int = 0
    errors: list = field(default_factory=list)
    rss: list = field(default_factory=list)  # (seconds since start, bytes)

    @property
    def rss_growth(self):
        """RSS growth after warm-up: the last quarter's median to warm-up's end."""
        if len(self.rss) < 8:
            return None
        quarter = len(self.rss) // 4
        warm = median([rss for _, rss in self.rss[quarter - 2 : quarter + 1]])
        last = median([rss for _, rss in self.rss[-quarter:]])
        return (last - warm) / warm

    def as_dict(self):
        return {**asdict(self), "rss_growth": self.rss_growth}


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


class Subscriber:
    """A socket that hears every create and resumes with `since` when told."""

    def __init__(self, soak):
        self.soak = soak
        self.ids = Counter()  # object id -> create events received
        self.seq = None
        self.ws = None

    async def open(self, since=None):
        soak = self.soak
        self.ws = await connect(soak.url, soak.target)
        extra = {} if since is None else {"since": since}
        frame = {
            "stream": f"{soak.scenario.stream}/subscribe/",
            "payload": soak.filter,
            "request_id": "subscribe",
            **extra,
        }
        await self.ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("type") == "event":
                self.heard(reply)
            elif reply.get("request_id") == "subscribe":
                break
        if reply["status"] != 200 or reply.get("resumed") is False:
            soak.error(f"subscribe since {since}: {reply}")

    async def listen(self):
        while True:
            try:
                self.heard(json.loads(await self.ws.recv()))
            except websockets.ConnectionClosed as closed:
                if not self.soak.stopping and closed.rcvd is not None:
                    self.soak.error(f"a subscriber was closed: {closed.rcvd.code}")
                return

    def heard(self, frame):
        if frame.get("type") != "event":
            return
        self.seq = max(self.seq or 0, frame["seq"])
        if frame["action"] == "create":
            self.ids[frame["data"]["id"]] += 1

    async def resume(self):
        """Close, reconnect, and subscribe with the last seq seen."""
        await self.ws.close()
        await self.open(since=self.seq)
        self.soak.report.resumes += 1


class Soak:
    def __init__(self, url, target, scenario, parent, seconds, options):
        self.url, self.target, self.scenario = url, target, scenario
        self.parent, self.seconds, self.options = parent, seconds, options
        self.filter = fill(scenario.subscribe, parent)
        self.report = SoakReport(seconds)
        self.created = set()
        self.stopping = False

    def error(self, what):
        if len(self.report.errors) < 50:
            self.report.errors.append(what)

    async def run(self, progress):
        options = self.options
        idle = await connect_many(self.url, self.target, options.idle, lambda n: None)
        subscribers = [Subscriber(self) for _ in range(options.subscribers)]
        for subscriber in subscribers:
            await subscriber.open()
        churners = [await connect(self.url, self.target) for _ in range(2)]
        listeners = [asyncio.create_task(s.listen()) for s in subscribers]
        deadline = time.monotonic() + self.seconds
        tasks = [
            asyncio.create_task(self.sample(deadline)),
            asyncio.create_task(self.write(deadline, progress)),
            asyncio.create_task(self.reconnect(subscribers, listeners, deadline)),
            *(asyncio.create_task(self.churn(ws, deadline)) for ws in churners),
        ]
        try:
            await asyncio.gather(*tasks)
            await asyncio.sleep(3)  # Events in flight arrive.
        finally:
            self.stopping = True
            for task in [*tasks, *listeners]:
                task.cancel()
            await close_all([*idle, *churners, *(s.ws for s in subscribers)])
        for subscriber in subscribers:
            heard = subscriber.ids
            self.report.events += sum(heard.values())
            self.report.missing += len(self.created - set(heard))
            self.report.duplicates += sum(n - 1 for n in heard.values() if n > 1)
        return self.report

    async def sample(self, deadline):
        started = time.monotonic()
        while time.monotonic() < deadline and self.target.server_pid:
            rss = server_rss(self.target.server_pid)
            self.report.rss.append((round(time.monotonic() - started, 1), rss))
            await asyncio.sleep(self.options.sample_every)

    async def write(self, deadline, progress):
        ws = await connect(self.url, self.target)
        path, pace = f"{self.scenario.stream}/create/", self.options.pace
        task = progress.add_task("soak: creates", total=None)
        try:
            start, i = time.monotonic(), 0
            while time.monotonic() < deadline:
                await asyncio.sleep(max(0, start + i / pace - time.monotonic()))
                reply = await request(
                    ws, path, fill(self.scenario.payload, self.parent, i)
                )
                if reply["status"] == 201:
                    self.created.add(reply["data"]["id"])
                    self.report.creates += 1
                else:
                    self.error(f"create answered {reply['status']}: {reply['data']}")
                progress.advance(task, 1)
                i += 1
        finally:
            await close_all([ws])

    async def reconnect(self, subscribers, listeners, deadline):
        """One subscriber after the other drops its socket and resumes."""
        n = 0
        while time.monotonic() < deadline - 2:
            await asyncio.sleep(self.options.reconnect_every)
            index = n % len(subscribers)
            listeners[index].cancel()
            await subscribers[index].resume()
            listeners[index] = asyncio.create_task(subscribers[index].listen())
            n += 1

    async def churn(self, ws, deadline):
        """Subscribe and unsubscribe, watch and unwatch, over and over."""
        stream = self.scenario.stream
        while time.monotonic() < deadline:
            await expect(ws, f"{stream}/subscribe/", self.filter, 200, self.url)
            await expect(ws, f"{stream}/unsubscribe/", self.filter, 200, self.url)
            watched = await request(ws, f"{stream}/watch/", self.filter)
            if watched["status"] == 200:
                payload = {"watch": watched["watch"]}
                await expect(ws, f"{stream}/unwatch/", payload, 200, self.url)
            self.report.churns += 1
            await asyncio.sleep(0.25)  # Four rounds a second: within the rate.


@dataclass
class SoakOptions:
    idle: int = 50
    subscribers: int = 10
    pace: float = 10.0  # creates a second
    reconnect_every: float = 2.0  # seconds between two resumes
    sample_every: float = 1.0  # seconds between two RSS samples


async def soak(url, target, scenario, parent, seconds, options, progress):
    return await Soak(url, target, scenario, parent, seconds, options).run(progress)
