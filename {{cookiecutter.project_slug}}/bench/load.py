"""The run: which workloads, on which endpoints, how many rounds.

One asyncio process drives every socket; every loop is bounded by a count and
every workload by `Options.timeout` seconds.

- W1: create round trips over 1 socket, then over `Options.sockets` sockets;
- HTTP: the same create over one keep-alive HTTP connection;
- W2: `subscribers` sockets of the load's user subscribed to one parent
  while one writer makes `events` creates; every subscriber must hear every
  event;
- W2u: W2 with every subscriber logged in as a different user: the app then
  authorizes each event once per user instead of once;
- W3: `idle` sockets held open; server RSS per socket (needs the server PID);
- W4: `subscribers` sockets `watch` the parent's list (a live query) while
  one writer makes `events` creates; each must enter every watch. Compared
  with W2 on the app: the price of evaluating a query instead of a group.
- W5: `subscribers` sockets, as many users, join the parent object's
  presence at once, then one of them sends `signals` signals to the others
  (presence.py); the app only (presence is the app's own).
- F1 and S1 (overload.py): a well-behaved socket's creates while another
  floods, and subscribers while one of them stops reading. The app only.

Each workload runs on the app's socket and, when the server has it, on the
reference endpoint (reference.py), so figures compare as ratios.
"""

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from realtime_api.client import RealtimeError

from . import overload
from .client import BenchError, client, close_all, connect, connect_many, request
from .presence import presence
from .scenario import fill
from .workloads import creates, fanout, hold_idle, http_creates

APP, REFERENCE, HTTP = "app", "reference", "http"

WORKLOADS = ("w1", "http", "w2", "w2u", "w3", "w4", "w5", "flood", "slow")
WORKLOADS += ("neighbours",)  # N1 (neighbours.py): runs alone, from cli.py.
# F1 and S1 take minutes and want the default frame rate: asked for by name.
DEFAULT_WORKLOADS = ("w1", "http", "w2", "w2u", "w3", "w4", "w5")


@dataclass
class Target:
    """Where the server is and who the load is."""

    url: str  # The API socket, ws://127.0.0.1:8000/ws/
    http_url: str  # The stream's HTTP twin, http://127.0.0.1:8000/api/comments/
    # ws://127.0.0.1:8000/bench/minimal/?model=app_label.ModelName
    reference_url: str | None = None
    cookie: str = ""  # "sessionid=...": the load's user
    csrf_token: str = ""
    server_pid: int | None = None
    # W2u and W5: one cookie per socket, each a session of a different user.
    user_cookies: list | None = None
    # The server's Redis, whose INFO commandstats W5 reads (None: not counted).
    redis_url: str | None = None
    # F1's flooder: another user (a user's sockets share their budget and
    # the 4008 penalty, so a flooder of the same user slows only itself).
    flooder_cookie: str | None = None

    @property
    def origin(self):
        """An Origin the server allows: the server's own, as a browser's page."""
        parts = urlsplit(self.url)
        return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


@dataclass
class Options:
    requests: int = 500  # W1 and HTTP: creates per measurement
    sockets: int = 20  # W1: concurrent sockets of the second measurement
    subscribers: int = 200  # W2, W2u, W4
    events: int = 50  # W2, W2u, W4: creates by the writer
    idle: int = 1000  # W3
    signals: int = 10  # W5: signals sent to the others present
    rounds: int = 1  # Each measurement is repeated; the median round counts.
    timeout: float = 120.0  # Seconds, per workload
    workloads: tuple = DEFAULT_WORKLOADS
    pace: float = 20.0  # F1: creates a second of the well-behaved socket
    fanout_rate: float = 0.0  # W2, W2u, W4: the writer's creates a second (0: unpaced)
    flood_creates: int = 200  # F1: its creates, alone and while flooded
    slow_events: int = 15_000  # S1: creates of ~2 KB while one socket stalls
    readers: int = 20  # S1: subscribers that read
    stall: float = overload.STALL  # S1: seconds the stalled socket reads nothing


def labels(options):
    """The name of each measurement, as the rows and the ratios show it."""
    n = options.subscribers
    return {
        "w1": "W1 create, 1 socket",
        "w1 many": f"W1 create, {options.sockets} sockets",
        "http": "HTTP create, keep-alive",
        "w2": f"W2 fan-out, {n} subscribers",
        "w2u": f"W2u fan-out, {n} subscribers, {n} users",
        "w3": f"W3 idle, {options.idle} sockets",
        "w4": f"W4 watch, {n} watchers",
        "w5 join": f"W5 presence join storm, {n} users",
        "w5 signal": f"W5 presence signal, {n - 1} receivers",
        "flood alone": f"F1 create at {options.pace:g}/s, alone",
        "flood": f"F1 create at {options.pace:g}/s, another socket flooding",
        "slow": f"S1 fan-out, {options.readers} readers, 1 socket not reading",
    }


@dataclass
class Row:
    """One measurement: a workload on one endpoint."""

    workload: str
    endpoint: str
    count: int
    rate: float | None = None  # req/s for creates, delivered events/s for W2
    p50_ms: float | None = None
    p99_ms: float | None = None
    missing: int | None = None
    rss_per_socket_kib: float | None = None
    cpu_us: float | None = None  # W1: server CPU time per create (needs the pid)
    storm_ms: float | None = None  # W5: until every socket knew everyone
    redis_calls_per_join: dict | None = None  # W5: Redis commands per join


@dataclass
class Report:
    rows: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # What was not measured, and why
    notes: list = field(default_factory=list)  # What else a workload saw

    def find(self, workload, endpoint):
        for row in self.rows:
            if (row.workload, row.endpoint) == (workload, endpoint):
                return row
        return None


class NoProgress:
    """Stands in for rich.progress.Progress when no bar is wanted."""

    def add_task(self, description, total=None):
        return None

    def advance(self, task_id, advance=1):
        pass

    def update(self, task_id, **kwargs):
        pass


async def run(target, options, scenario, progress=None):
    """Run the selected workloads; return a Report."""
    bench = Bench(target, options, scenario, progress or NoProgress())
    await bench.prepare()
    # W3 first: later workloads leave freed memory behind, which the first
    # endpoint measured would reuse and the second would not.
    for workload in ("w3", "w1", "http", "w2", "w2u", "w4", "w5", "flood", "slow"):
        if workload in options.workloads:
            await getattr(bench, workload)()
    return bench.report


class Bench:
    """One run: the parent object, the endpoints measured and the report."""

    def __init__(self, target, options, scenario, progress):
        self.target = target
        self.options = options
        self.scenario = scenario
        self.progress = progress
        self.labels = labels(options)
        self.report = Report()
        self.parent = None
        self.endpoints = {APP: target.url}

    async def prepare(self):
        """Create the parent object; add the reference if it can create too."""
        self.parent = await create_parent(self.target, self.scenario)
        reason = await probe_reference(self.target, self.scenario, self.parent)
        if reason is None:
            self.endpoints = {REFERENCE: self.target.reference_url, **self.endpoints}
        else:
            self.report.skipped[REFERENCE] = reason

    # Workloads ---------------------------------------------------------------

    async def w1(self):
        for sockets, label in ((1, "w1"), (self.options.sockets, "w1 many")):
            workload = self.labels[label]

            def measure(name, url, sockets=sockets, workload=workload):
                return creates(
                    url,
                    self.target,
                    self.scenario,
                    self.parent,
                    self.options.requests,
                    sockets,
                    self.bar(f"{workload} ({name})", self.options.requests),
                )

            await self.compare(workload, self.options.requests, measure)

    async def http(self):
        workload = self.labels["http"]

        def measure(name, url):
            return asyncio.to_thread(
                http_creates,
                self.target,
                self.scenario,
                self.parent,
                self.options.requests,
                self.bar(workload, self.options.requests),
            )

        await self.compare(workload, self.options.requests, measure, {HTTP: None})

    async def w2(self):
        await self.fanout(self.labels["w2"])

    async def w2u(self):
        workload = self.labels["w2u"]
        if self.target.user_cookies is None:
            self.report.skipped[workload] = (
                "needs a session per subscriber, which the load creates "
                "unless --session is given"
            )
            return
        await self.fanout(workload, cookies=self.target.user_cookies)

    async def w4(self):
        # Live queries are the app's own: there is no reference to compare.
        await self.fanout(self.labels["w4"], {APP: self.target.url}, action="watch")

    async def w5(self):
        """Presence: a join storm on the parent object, then signals (app only)."""
        join, signal = self.labels["w5 join"], self.labels["w5 signal"]
        reason = await self.presence_unavailable()
        if reason is not None:
            self.report.skipped[join] = self.report.skipped[signal] = reason
            return
        rounds = []
        for _ in range(self.options.rounds):
            result = await self.bounded(
                presence(
                    self.target.url,
                    self.target,
                    self.scenario.parent_stream,
                    self.parent,
                    self.options.subscribers,
                    self.options.signals,
                    self.target.redis_url,
                    self.bar(join, self.options.subscribers),
                ),
                join,
            )
            rounds.append(result)
        rounds.sort(key=lambda result: result.storm_ms)
        result = rounds[len(rounds) // 2]
        self.report.rows.append(
            Row(
                join,
                APP,
                result.joins,
                rate=result.joins / (result.storm_ms / 1000),
                p50_ms=result.join_p50_ms,
                p99_ms=result.join_p99_ms,
                missing=max(r.unsettled for r in rounds),
                storm_ms=result.storm_ms,
                redis_calls_per_join=result.redis_calls
                if self.target.redis_url
                else None,
            )
        )
        self.report.rows.append(
            Row(
                signal,
                APP,
                result.signals * (result.joins - 1),
                rate=result.signal_rate,
                p50_ms=result.signal_p50_ms,
                p99_ms=result.signal_p99_ms,
                missing=max(r.undelivered for r in rounds),
            )
        )

    async def presence_unavailable(self):
        """Why W5 cannot run here, or None: one join of the parent, refused or not."""
        if self.target.user_cookies is None:
            return (
                "needs a session per socket, which the load creates unless "
                "--session is given"
            )
        if self.scenario.parent_stream is None or self.parent is None:
            return "needs a parent object to join (--parent-stream)"
        if self.options.subscribers < 2:
            return "needs 2 sockets at least (--subscribers)"
        ws = await connect(self.target.url, self.target)
        try:
            path = f"{self.scenario.parent_stream}/join/{self.parent}/"
            reply = await request(ws, path, {})
        finally:
            await close_all([ws])
        if reply.get("status") == 405:
            return (
                f"{self.scenario.parent_stream} has no presence (set "
                "`presence = True` on its endpoint)"
            )
        if reply.get("status") != 200:
            raise BenchError(
                f"{path} answered {reply.get('status')}: {reply.get('data')}"
            )
        return None

    async def flood(self):
        """F1, the app only: its p99 while flooded, to its p99 alone."""
        options = self.options
        alone, flooded, stats = await self.bounded(
            overload.flood(
                self.target.url,
                self.target,
                self.scenario,
                self.parent,
                options.flood_creates,
                options.pace,
            ),
            self.labels["flood"],
        )
        for label, (p50, p99) in (("flood alone", alone), ("flood", flooded)):
            row = Row(self.labels[label], APP, options.flood_creates, options.pace)
            row.p50_ms, row.p99_ms = p50, p99
            self.report.rows.append(row)
        self.report.notes.append(
            f"F1: the flooder sent {stats['frames']:,} frames over "
            f"{stats['sockets']} sockets; closes by code: {stats['closes']}."
        )

    async def slow(self):
        """S1, the app only: readers' latency and RSS while one socket stalls."""
        options, workload = self.options, self.labels["slow"]
        figures = await self.bounded(
            overload.slow_consumer(
                self.target.url,
                self.target,
                self.scenario,
                self.parent,
                options.slow_events,
                options.readers,
                self.bar(workload, options.slow_events),
                options.stall,
            ),
            workload,
        )
        row = Row(workload, APP, figures["events"] * options.readers)
        row.p50_ms, row.p99_ms = figures["p50_ms"], figures["p99_ms"]
        row.missing = figures["missing"]
        self.report.rows.append(row)
        growth = "not measured (--server-pid)"
        if figures["rss_before"] and figures["rss_max"]:
            growth = f"{(figures['rss_max'] - figures['rss_before']) / 2**20:.1f} MB"
        size = "~2 KB" if figures["padded"] else "unpadded (the stream refused 2 KB)"
        self.report.notes.append(
            f"S1: {figures['events']:,} events, {size}; server RSS growth at most "
            f"{growth}; the socket that read nothing for {options.stall:g} s was "
            "closed with "
            f"{figures['slow_socket_close']} after {figures['slow_socket_frames']:,} "
            f"frames reached it; the writers were refused "
            f"{figures['writer_429s']} times (429) and waited."
        )

    async def w3(self):
        """Hold `idle` sockets per endpoint, all at once, and weigh them.

        The sockets of every endpoint stay open until all are measured, so
        that no endpoint reuses memory another one freed: the server only
        grows.
        """
        workload, idle = self.labels["w3"], self.options.idle
        if self.target.server_pid is None:
            self.report.skipped[workload] = (
                "no server PID (--server-pid): RSS not measured"
            )
        held = []
        try:
            # Warm up: load every code path a connection takes, then let go.
            for url in self.endpoints.values():
                warm = await connect_many(
                    url, self.target, min(50, idle), lambda n: None
                )
                await close_all(warm)
            for name, url in self.endpoints.items():
                sockets, per_socket = await self.bounded(
                    hold_idle(
                        url, self.target, idle, self.bar(f"{workload} ({name})", idle)
                    ),
                    workload,
                )
                held.extend(sockets)
                row = Row(workload, name, idle, rss_per_socket_kib=per_socket)
                self.report.rows.append(row)
        finally:
            await close_all(held)

    # Helpers -----------------------------------------------------------------

    async def fanout(self, workload, endpoints=None, **kwargs):
        """Measure W2, W2u or W4: `kwargs` go to workloads.fanout()."""
        options = self.options

        def measure(name, url):
            self.progress.add_task(f"{workload} ({name})", total=0)
            return fanout(
                url,
                self.target,
                self.scenario,
                self.parent,
                options.subscribers,
                options.events,
                self.progress,
                rate=options.fanout_rate,
                **kwargs,
            )

        count = options.subscribers * options.events
        await self.compare(workload, count, measure, endpoints)

    async def compare(self, workload, count, measure, endpoints=None):
        """Run `measure(name, url)` on each endpoint, `rounds` times; record it.

        Rounds alternate between endpoints, so that a machine busy for a
        while slows both; the median round counts.
        """
        endpoints = endpoints or self.endpoints
        results = {name: [] for name in endpoints}
        for _ in range(self.options.rounds):
            for name, url in endpoints.items():
                results[name].append(await self.bounded(measure(name, url), workload))
        for name, measured in results.items():
            measured.sort(key=lambda result: result.rate)
            median = measured[len(measured) // 2]
            row = Row(workload, name, count, median.rate, median.p50_ms, median.p99_ms)
            if median.missing is not None:  # Fan-out: the worst round's.
                row.missing = max(result.missing for result in measured)
            row.cpu_us = median.cpu_us
            self.report.rows.append(row)

    async def bounded(self, coroutine, what):
        try:
            async with asyncio.timeout(self.options.timeout):
                return await coroutine
        except TimeoutError:
            raise BenchError(
                f"{what} took more than {self.options.timeout:g} s (--timeout)."
            ) from None

    def bar(self, description, total):
        """A progress bar; return the function that advances it."""
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.advance(task, n)


async def create_parent(target, scenario):
    """Check the stream answers; create the parent; return the parent's id."""
    try:
        async with client(target.url, target) as setup:
            if scenario.parent_stream is None:
                return None
            payload = scenario.parent_payload
            reply = await setup.request(
                scenario.parent_stream, "create", payload=payload
            )
            return reply["data"].get("id")
    except RealtimeError as exc:
        raise BenchError(f"Creating the parent object on {target.url}: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise BenchError(f"Cannot open {target.url}: {exc}") from None


async def probe_reference(target, scenario, parent):
    """Return why the reference endpoint cannot be measured, or None if it can."""
    if not target.reference_url:
        return "no reference endpoint given"
    payload = fill(scenario.payload, parent, -1)
    try:
        async with client(target.reference_url, target) as probe:
            await probe.request(scenario.stream, "create", payload=payload)
    except RealtimeError as exc:
        if getattr(exc, "frame", None) is not None:
            return f"the reference endpoint cannot create: {exc.data}"
        return (
            f"Cannot open {target.reference_url}: {exc} (serve "
            "bench.asgi:application to compare with the reference endpoint)"
        )
    except (OSError, TimeoutError) as exc:
        return (
            f"Cannot open {target.reference_url}: {exc} (serve "
            "bench.asgi:application to compare with the reference endpoint)"
        )
    return None
