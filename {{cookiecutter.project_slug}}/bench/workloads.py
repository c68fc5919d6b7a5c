"""The workloads: each opens its sockets, measures, and closes them.

Each returns what it measured (rate, p50 and p99 in ms, and for fan-out the
events that never arrived); load.py runs them per endpoint and round.
"""

import asyncio
import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .client import BenchError, close_all, connect, connect_many, expect
from .scenario import fill


@dataclass(frozen=True)
class Result:
    """What one round of a workload measured on one endpoint."""

    rate: float  # req/s, or delivered events/s
    p50_ms: float | None
    p99_ms: float | None
    missing: int | None = None  # Fan-out: events that never arrived.
    cpu_us: float | None = None  # W1: the server's CPU time per create.


async def creates(url, target, scenario, parent, count, sockets, advance):
    """W1: `count` creates over `sockets` sockets, each waiting for its answer.

    With the server's pid, also the server's CPU time per create (user and
    system, in microseconds): what a create costs, whatever the wait.
    """
    path = f"{scenario.stream}/create/"
    conns = [await connect(url, target) for _ in range(sockets)]
    try:
        for ws in conns:  # Warm up each socket (its scope, the code paths).
            await expect(ws, path, fill(scenario.payload, parent, -1), 201, url)

        async def create(ws, i):
            await expect(ws, path, fill(scenario.payload, parent, i), 201, url)

        return await timed_creates(conns, create, count, target, advance)
    finally:
        await close_all(conns)


async def timed_creates(conns, create, count, target, advance):
    """`count` calls of `create(ws, i)` shared by the sockets, each timed; the
    rate, p50/p99 and (with the server's pid) its CPU time per create."""
    numbers = iter(range(count))
    latencies = []

    async def worker(ws):
        for i in numbers:
            started = time.perf_counter()
            await create(ws, i)
            latencies.append(time.perf_counter() - started)
            advance(1)

    cpu_before = server_cpu_seconds(target.server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker(ws) for ws in conns))
    elapsed = time.perf_counter() - started
    cpu_after = server_cpu_seconds(target.server_pid)
    cpu_us = None
    if cpu_before is not None and cpu_after is not None:
        cpu_us = (cpu_after - cpu_before) / count * 1e6
    return Result(
        count / elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        cpu_us=cpu_us,
    )


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
    return Result(
        count / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)
    )


async def fanout(
    url,
    target,
    scenario,
    parent,
    subscribers,
    events,
    progress,
    action="subscribe",
    cookies=None,
    rate=0.0,
):
    """W2, W2u, W4: `subscribers` sockets subscribe to (or watch) one parent's
    objects, and the load's own socket makes `events` creates they must hear.

    W2u passes `cookies`, one session of a different user per subscriber.
    With `rate`, the creates start on a schedule of `rate` a second (each
    still waits for the last one's answer): latency at a given load rather
    than at saturation.
    """
    task = progress.add_task("  subscribing", total=subscribers)
    subs = await connect_many(
        url, target, subscribers, lambda n: progress.advance(task, n), cookies
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
            if rate:
                await asyncio.sleep(started + i / rate - time.perf_counter())
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
    return Result(
        rate,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        missing=subscribers * events - delivered,
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


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (seconds) in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return 1000 * ordered[rank]


def server_cpu_seconds(pid):
    """The CPU time process `pid`'s threads have run for, or None if unknown.

    Linux counts it per thread in nanoseconds (/proc/PID/task/*/schedstat):
    precise enough for a few creates, where /proc/PID/stat counts 10 ms
    ticks. A thread that ends in between takes its time with it; the
    server's event loop and database threads do not end.
    """
    if pid is None:
        return None
    tasks = Path(f"/proc/{pid}/task")
    if tasks.exists():
        total = 0
        for task in tasks.iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # The thread ended while we looked.
        return total / 1e9
    try:
        import psutil
    except ImportError:
        return None
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


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
