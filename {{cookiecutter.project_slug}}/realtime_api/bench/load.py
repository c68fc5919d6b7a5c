"""The workloads of `manage.py realtime_bench`, driven over real WebSockets.

Only PROTOCOL.md is spoken here, so the load works against any server that
speaks it. One asyncio process drives every socket; every loop is bounded by
a count and every workload by `Options.timeout` seconds.

- W1: create round trips over 1 socket, then over `Options.sockets` sockets;
- HTTP: the same create over one keep-alive HTTP connection;
- W2: `subscribers` sockets subscribed to one parent while one writer makes
  `events` creates; every subscriber must receive every event;
- W3: `idle` sockets held open; server RSS per socket (needs the server PID);
- W4: `subscribers` sockets `watch` the parent's list (a live query) while
  one writer makes `events` creates; each must enter every watch. Compared
  with W2 on the app: the price of evaluating a query instead of a group.

Each workload runs on the app's socket and, when the server has it, on the
reference endpoint (bench/reference.py), so figures compare as ratios.
"""

import asyncio
import http.client
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import websockets

APP, REFERENCE, HTTP = "app", "reference", "http"


class BenchError(Exception):
    """The load cannot go on: the message says what the server answered."""


@dataclass
class Scenario:
    """What the load creates and subscribes to; the defaults fit the sample app.

    In `payload` and `subscribe`, the string "{parent}" stands for the id of
    the parent object created first, and "{i}" for the number of the create.
    """

    stream: str = "comments"
    payload: dict = field(
        default_factory=lambda: {"topic": "{parent}", "text": "realtime_bench {i}"}
    )
    subscribe: dict = field(default_factory=lambda: {"topic": "{parent}"})
    parent_stream: str | None = "topics"
    parent_payload: dict = field(default_factory=lambda: {"title": "realtime_bench"})


@dataclass
class Target:
    """Where the server is and who the load is."""

    url: str  # The API socket, ws://127.0.0.1:8000/ws/
    http_url: str  # The stream's HTTP twin, http://127.0.0.1:8000/api/comments/
    reference_url: str | None = None  # ws://127.0.0.1:8000/bench/minimal/
    cookie: str = ""  # "sessionid=..."
    csrf_token: str = ""
    server_pid: int | None = None

    @property
    def origin(self):
        """An Origin the server allows: the server's own, as a browser's page."""
        parts = urlsplit(self.url)
        return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"


@dataclass
class Options:
    requests: int = 500  # W1 and HTTP: creates per measurement
    sockets: int = 20  # W1: concurrent sockets of the second measurement
    subscribers: int = 200  # W2
    events: int = 50  # W2: creates by the writer
    idle: int = 1000  # W3
    rounds: int = 1  # Each measurement is repeated; the median round counts.
    timeout: float = 120.0  # Seconds, per workload
    workloads: tuple = ("w1", "http", "w2", "w3", "w4")


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


@dataclass
class Report:
    rows: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # What was not measured, and why

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


def fill(template, parent, i=0):
    """Replace "{parent}" and "{i}" in a JSON template (see Scenario)."""
    if isinstance(template, dict):
        return {key: fill(value, parent, i) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, parent, i) for value in template]
    if isinstance(template, str):
        if template == "{parent}":
            return parent
        return template.replace("{parent}", str(parent)).replace("{i}", str(i))
    return template


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (seconds) in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return 1000 * ordered[rank]


def server_rss(pid):
    """The resident memory of process `pid` in bytes, or None if unknown."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process(pid).memory_info().rss


# Sockets ---------------------------------------------------------------------


async def connect(url, target):
    """Open a socket as a browser tab of the load's session would."""
    headers = {"Cookie": target.cookie} if target.cookie else {}
    try:
        return await websockets.connect(
            url,
            origin=target.origin,
            additional_headers=headers,
            open_timeout=20,
            # Measure the server, not zlib or keepalive pings.
            compression=None,
            ping_interval=None,
            max_size=None,
        )
    except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
        raise BenchError(f"Cannot open {url}: {exc}") from None


async def connect_many(url, target, count, advance, concurrency=50):
    """Open `count` sockets, `concurrency` handshakes at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one():
        async with limit:
            ws = await connect(url, target)
        advance(1)
        return ws

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        opened = await asyncio.gather(*tasks, return_exceptions=True)
        await close_all([ws for ws in opened if not isinstance(ws, BaseException)])
        raise


async def close_all(sockets):
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


_request_ids = itertools.count(1)


async def request(ws, path, payload):
    """Send a request frame; return its response frame (events are skipped)."""
    request_id = next(_request_ids)
    frame = {"stream": path, "payload": payload, "request_id": request_id}
    await ws.send(json.dumps(frame))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("type") == "response" and reply.get("request_id") == request_id:
            return reply


async def expect(ws, path, payload, status, where):
    reply = await request(ws, path, payload)
    if reply.get("status") != status:
        raise BenchError(
            f"{where}: {path} answered {reply.get('status')}, not {status}: "
            f"{json.dumps(reply.get('data'))[:300]}"
        )
    return reply


# Workloads -------------------------------------------------------------------


async def creates(url, target, scenario, parent, count, sockets, advance):
    """W1: `count` creates over `sockets` sockets, each waiting for its answer."""
    path = f"{scenario.stream}/create/"
    conns = [await connect(url, target) for _ in range(sockets)]
    try:
        for ws in conns:  # Warm up each socket (its scope, the code paths).
            await expect(ws, path, fill(scenario.payload, parent, -1), 201, url)
        numbers = iter(range(count))
        latencies = []

        async def worker(ws):
            for i in numbers:
                payload = fill(scenario.payload, parent, i)
                started = time.perf_counter()
                await expect(ws, path, payload, 201, url)
                latencies.append(time.perf_counter() - started)
                advance(1)

        started = time.perf_counter()
        await asyncio.gather(*(worker(ws) for ws in conns))
        elapsed = time.perf_counter() - started
    finally:
        await close_all(conns)
    return count / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)


def http_creates(target, scenario, parent, count, advance):
    """The same create as W1, POSTed over one keep-alive HTTP connection."""
    parts = urlsplit(target.http_url)
    cls = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    conn = cls(parts.hostname, parts.port, timeout=20)
    # SessionAuthentication checks CSRF: the cookie, its header and the Origin.
    cookie = "; ".join(
        c for c in (target.cookie, f"csrftoken={target.csrf_token}") if c
    )
    headers = {
        "Cookie": cookie,
        "X-CSRFToken": target.csrf_token,
        "Origin": f"{parts.scheme}://{parts.netloc}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    path = parts.path or "/"

    def post(i):
        body = json.dumps(fill(scenario.payload, parent, i))
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        if response.status != 201:
            raise BenchError(
                f"POST {target.http_url} answered {response.status}, not 201: "
                f"{content[:300]!r}"
            )

    latencies = []
    try:
        post(-1)  # Warm up.
        started = time.perf_counter()
        for i in range(count):
            before = time.perf_counter()
            post(i)
            latencies.append(time.perf_counter() - before)
            advance(1)
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return count / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)


async def fanout(
    url, target, scenario, parent, subscribers, events, progress, action="subscribe"
):
    """W2 (W4): `subscribers` sockets subscribe to (watch) one parent's objects
    and hear `events` creates."""
    task = progress.add_task("  subscribing", total=subscribers)
    subs = await connect_many(
        url, target, subscribers, lambda n: progress.advance(task, n)
    )
    writer = await connect(url, target)
    listeners = []
    try:
        subscribe = fill(scenario.subscribe, parent)
        await asyncio.gather(
            *(
                expect(ws, f"{scenario.stream}/{action}/", subscribe, 200, url)
                for ws in subs
            )
        )
        progress.update(task, description="  delivering", completed=0)
        progress.update(task, total=subscribers * events)
        arrivals = []  # (object id, time), one per event a subscriber received

        async def listen(ws):
            got = 0
            while got < events:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "event" and frame["action"] != "leave":
                    arrivals.append((frame["data"].get("id"), time.perf_counter()))
                    got += 1
                    progress.advance(task, 1)

        listeners = [asyncio.create_task(listen(ws)) for ws in subs]
        sent_at = {}
        path = f"{scenario.stream}/create/"
        started = time.perf_counter()
        for i in range(events):
            before = time.perf_counter()
            payload = fill(scenario.payload, parent, i)
            reply = await expect(writer, path, payload, 201, url)
            sent_at[reply["data"]["id"]] = before
        # Whatever has not arrived 10 s after the last create is missing.
        await asyncio.wait(listeners, timeout=10)
    finally:
        for listener in listeners:
            listener.cancel()
        await close_all([writer, *subs])
    latencies = [at - sent_at[key] for key, at in arrivals if key in sent_at]
    delivered = len(latencies)
    last = max((at for key, at in arrivals if key in sent_at), default=started)
    rate = delivered / (last - started) if delivered else 0.0
    return (
        rate,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        subscribers * events - delivered,
    )


async def hold_idle(url, target, count, advance):
    """W3: open `count` sockets and hold them; return them with the RSS growth."""
    before = await settled_rss(target.server_pid)
    sockets = await connect_many(url, target, count, advance)
    after = await settled_rss(target.server_pid)
    if before is None or after is None:
        return sockets, None
    return sockets, (after - before) / count / 1024


async def settled_rss(pid):
    """The server's RSS once it has finished the work in flight."""
    if pid is None:
        return None
    await asyncio.sleep(1.0)
    return server_rss(pid)


# The run ---------------------------------------------------------------------


async def run(target, options, scenario=None, progress=None):
    """Run the selected workloads; return a Report."""
    scenario = scenario or Scenario()
    progress = progress or NoProgress()
    report = Report()
    parent = await setup(target, scenario, options)
    endpoints = {APP: target.url}
    reason = await probe_reference(target, scenario, parent, options)
    if reason is None:
        endpoints = {REFERENCE: target.reference_url, APP: target.url}
    else:
        report.skipped[REFERENCE] = reason

    async def bounded(coroutine, what):
        try:
            async with asyncio.timeout(options.timeout):
                return await coroutine
        except TimeoutError:
            raise BenchError(
                f"{what} took more than {options.timeout:g} s (--timeout)."
            ) from None

    def measured(workload, endpoint, count, results):
        # Rounds are alternated between endpoints; the median round counts.
        results.sort(key=lambda result: result[0])
        rate, p50, p99, *rest = results[len(results) // 2]
        row = Row(workload, endpoint, count, rate, p50, p99)
        if rest:
            row.missing = max(result[3] for result in results)
        report.rows.append(row)

    if "w3" in options.workloads:
        # First: later workloads leave freed memory behind, which the first
        # endpoint measured would reuse and the second would not.
        await idle_memory(target, options, endpoints, progress, report, bounded)

    if "w1" in options.workloads:
        for sockets in (1, options.sockets):
            workload = f"W1 create, {sockets} socket{'s' * (sockets > 1)}"
            results = {name: [] for name in endpoints}
            for _ in range(options.rounds):
                for name, url in endpoints.items():
                    bar = progress.add_task(f"{workload} ({name})", options.requests)
                    results[name].append(
                        await bounded(
                            creates(
                                url,
                                target,
                                scenario,
                                parent,
                                options.requests,
                                sockets,
                                lambda n, bar=bar: progress.advance(bar, n),
                            ),
                            workload,
                        )
                    )
            for name in endpoints:
                measured(workload, name, options.requests, results[name])

    if "http" in options.workloads:
        workload = "HTTP create, keep-alive"
        bar = progress.add_task(workload, options.requests)
        results = []
        for _ in range(options.rounds):
            results.append(
                await bounded(
                    asyncio.to_thread(
                        http_creates,
                        target,
                        scenario,
                        parent,
                        options.requests,
                        lambda n: progress.advance(bar, n),
                    ),
                    workload,
                )
            )
        measured(workload, HTTP, options.requests, results)

    if "w2" in options.workloads:
        workload = f"W2 fan-out, {options.subscribers} subscribers"
        results = {name: [] for name in endpoints}
        for _ in range(options.rounds):
            for name, url in endpoints.items():
                progress.add_task(f"{workload} ({name})", total=0)
                results[name].append(
                    await bounded(
                        fanout(
                            url,
                            target,
                            scenario,
                            parent,
                            options.subscribers,
                            options.events,
                            progress,
                        ),
                        workload,
                    )
                )
        for name in endpoints:
            measured(
                workload, name, options.subscribers * options.events, results[name]
            )

    if "w4" in options.workloads:
        # Live queries are the app's own: there is no reference to compare.
        workload = f"W4 watch, {options.subscribers} watchers"
        results = []
        for _ in range(options.rounds):
            progress.add_task(f"{workload} ({APP})", total=0)
            results.append(
                await bounded(
                    fanout(
                        target.url,
                        target,
                        scenario,
                        parent,
                        options.subscribers,
                        options.events,
                        progress,
                        action="watch",
                    ),
                    workload,
                )
            )
        measured(workload, APP, options.subscribers * options.events, results)
    return report


async def idle_memory(target, options, endpoints, progress, report, bounded):
    """W3: hold `idle` sockets per endpoint, all at once, and weigh them.

    The sockets of every endpoint stay open until all are measured, so that
    no endpoint reuses memory another one freed: the server only grows.
    """
    workload = f"W3 idle, {options.idle} sockets"
    if target.server_pid is None:
        report.skipped[workload] = "no server PID (--server-pid): RSS not measured"
    held = []
    try:
        # Warm up: load every code path a connection takes, then let go.
        for url in endpoints.values():
            await close_all(
                await connect_many(url, target, min(50, options.idle), lambda n: None)
            )
        for name, url in endpoints.items():
            bar = progress.add_task(f"{workload} ({name})", options.idle)
            sockets, per_socket = await bounded(
                hold_idle(
                    url,
                    target,
                    options.idle,
                    lambda n, bar=bar: progress.advance(bar, n),
                ),
                workload,
            )
            held.extend(sockets)
            row = Row(workload, name, options.idle)
            row.rss_per_socket_kib = per_socket
            report.rows.append(row)
    finally:
        await close_all(held)


async def setup(target, scenario, options):
    """Check the stream answers; create the parent; return the parent's id."""
    ws = await connect(target.url, target)
    try:
        if scenario.parent_stream is None:
            return None
        reply = await expect(
            ws,
            f"{scenario.parent_stream}/create/",
            scenario.parent_payload,
            201,
            "Creating the parent object",
        )
        return reply["data"].get("id")
    finally:
        await ws.close()


async def probe_reference(target, scenario, parent, options):
    """Return why the reference endpoint cannot be measured, or None if it can."""
    if not target.reference_url:
        return "no reference endpoint given"
    try:
        ws = await connect(target.reference_url, target)
    except BenchError as exc:
        return (
            f"{exc} (serve realtime_api.bench.asgi:application to compare with "
            "the reference endpoint)"
        )
    try:
        reply = await request(
            ws, f"{scenario.stream}/create/", fill(scenario.payload, parent, -1)
        )
    finally:
        await ws.close()
    if reply.get("status") != 201:
        return f"the reference endpoint cannot create: {reply.get('data')}"
    return None


# Ratios ----------------------------------------------------------------------


def ratios(report, options):
    """The ratios the targets are set on: [(name, value, target, met)]."""
    w1 = [f"W1 create, {n} socket{'s' * (n > 1)}" for n in (1, options.sockets)]
    w2 = f"W2 fan-out, {options.subscribers} subscribers"
    w3 = f"W3 idle, {options.idle} sockets"
    w4 = f"W4 watch, {options.subscribers} watchers"
    wanted = [
        (
            f"{w4}: watch / subscribe fan-out (events/s)",
            (w4, APP),
            (w2, APP),
            "rate",
            0.5,
            True,
        ),
        (
            f"{w1[0]}: app / reference (req/s)",
            (w1[0], APP),
            (w1[0], REFERENCE),
            "rate",
            0.85,
            True,
        ),
        (
            f"{w1[1]}: app / reference (req/s)",
            (w1[1], APP),
            (w1[1], REFERENCE),
            "rate",
            0.85,
            True,
        ),
        (
            f"{w2}: app / reference (events/s)",
            (w2, APP),
            (w2, REFERENCE),
            "rate",
            1.3,
            True,
        ),
        (
            f"{w3}: app / reference (RSS per socket)",
            (w3, APP),
            (w3, REFERENCE),
            "rss_per_socket_kib",
            1.1,
            False,
        ),
        (
            "Create, 1 connection: WebSocket / HTTP (req/s)",
            (w1[0], APP),
            ("HTTP create, keep-alive", HTTP),
            "rate",
            4.0,
            True,
        ),
    ]
    result = []
    for name, top, bottom, attribute, goal, higher in wanted:
        top_row, bottom_row = report.find(*top), report.find(*bottom)
        if top_row is None or bottom_row is None:
            continue
        a, b = getattr(top_row, attribute), getattr(bottom_row, attribute)
        if a is None or not b:
            continue
        value = a / b
        met = value >= goal if higher else value <= goal
        if top[0] in (w2, w4):
            met = met and not top_row.missing
        result.append((name, value, ("≥ " if higher else "≤ ") + f"{goal:g}x", met))
    return result
