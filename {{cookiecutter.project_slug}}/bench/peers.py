"""`python -m bench --peers`: the equal-work comparison, ours / DCRF / bare.

One server (`bench.asgi:application` with bench/settings.py), four columns:

- sample: the sample app's `comments` stream, as the template ships it
  (visibility rules, `can_edit`, validation against visible topics);
- equal: our stream over the peer's own view, a plain `ModelViewSet` with
  `AllowAny` and a plain `ModelSerializer` (bench/peer/views.py);
- DCRF: djangochannelsrestframework 1.3 over the same serializer
  (bench/peer/dcrf.py; the `bench-peers` extra, skipped without it);
- bare: bench/reference.py's consumer over the same model: the least work.

Measured: W1 creates over 1 and --sockets sockets (and the server's CPU per
create, with --server-pid), W2 fan-out of --events creates to --subscribers,
W3 server RSS per idle socket. Rounds alternate between columns so that a
busy spell hits them all; the median round counts. Compare within one run.
"""

import asyncio
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

from rich.table import Table

from . import PEER_BARE_PATH, PEER_DCRF_PATH
from .client import BenchError, close_all, connect, connect_many
from .load import Target
from .peer.names import STREAM
from .peers_client import (
    Column,
    Dcrf,
    Protocol,
    ask,
    comment,
    creates,
    fanout,
    hold_idle,
)
from .report import number
from .scenario import DEFAULT

SAMPLE, EQUAL, DCRF, BARE = "sample", "equal", "DCRF", "bare"
COLUMNS = (SAMPLE, EQUAL, DCRF, BARE)


@dataclass
class Measurement:
    """One workload on one column (the median round)."""

    workload: str
    column: str
    rate: float | None = None  # creates/s, or delivered events/s
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us: float | None = None  # Server CPU per create (W1, with the pid)
    missing: int | None = None  # W2: events that never arrived
    rss_kib: float | None = None  # W3: server RSS per idle socket


@dataclass
class Comparison:
    measurements: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # column -> why

    def get(self, workload, column):
        for measurement in self.measurements:
            if (measurement.workload, measurement.column) == (workload, column):
                return measurement
        return None


def columns_of(url):
    """The four columns on the server of `url` (our socket, ws://HOST/ws/)."""
    parts = urlsplit(url)

    def at(path):
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    sample_stream = DEFAULT.stream if DEFAULT is not None else None
    return {
        SAMPLE: Column(SAMPLE, url, sample_stream or "", Protocol()),
        EQUAL: Column(EQUAL, url, STREAM, Protocol()),
        DCRF: Column(DCRF, at(PEER_DCRF_PATH), "", Dcrf()),
        BARE: Column(BARE, at(PEER_BARE_PATH), STREAM, Protocol()),
    }


class Peers:
    """One run of the comparison: topics, columns, rounds, measurements."""

    def __init__(self, target, options, progress):
        self.target = target
        self.options = options
        self.progress = progress
        self.comparison = Comparison()
        self.columns = {}
        self.labels = workload_labels(options)
        # Each workload writes in a topic of its own, so that no subscription
        # starts out matching the earlier workloads' comments.
        self.topic_numbers = itertools.count(int(time.time()) % 100_000 * 1000)

    async def run(self):
        await self.probe()
        if not self.columns:
            return self.comparison
        await self.w3()  # First: later workloads leave freed memory behind.
        for sockets, label in ((1, "w1"), (self.options.sockets, "w1 many")):

            def measure(column, sockets=sockets, label=label):
                return self.w1(column, sockets, label)

            await self.compare(label, measure)
        await self.compare("w2", self.w2)
        return self.comparison

    async def probe(self):
        """Keep the columns this server serves; say why the others are skipped."""
        for name, column in columns_of(self.target.url).items():
            reason = await self.unavailable(column)
            if reason is None:
                self.columns[name] = column
            else:
                self.comparison.skipped[name] = reason

    async def unavailable(self, column):
        if column.name == SAMPLE and DEFAULT is None:
            return "needs the sample app (include_sample_app=y)"
        try:
            ws = await connect(column.url, self.target)
        except BenchError as exc:
            hint = ""
            if column.name == DCRF:
                hint = 'install the extra (pip install -e ".[bench-peers]") and '
            return (
                f"{exc} ({hint}serve bench.asgi:application with "
                "DJANGO_SETTINGS_MODULE=bench.settings)"
            )
        try:
            await ask(ws, column, "create", comment(await self.topic(column), -1), 201)
        except BenchError as exc:
            return f"{exc} (serve it with DJANGO_SETTINGS_MODULE=bench.settings)"
        finally:
            await close_all([ws])
        return None

    async def topic(self, column):
        """A fresh topic: a new sample topic, or a new number for the peers."""
        if column.name != SAMPLE:
            return next(self.topic_numbers)
        ws = await connect(column.url, self.target)
        try:
            parent = Column(SAMPLE, column.url, DEFAULT.parent_stream, Protocol())
            data = await ask(ws, parent, "create", DEFAULT.parent_payload, 201)
        finally:
            await close_all([ws])
        return data["id"]

    # Workloads ---------------------------------------------------------------

    async def w1(self, column, sockets, label):
        count = self.options.requests
        topic = await self.topic(column)
        advance = self.bar(f"{self.labels[label]} ({column.name})", count)
        return await creates(column, self.target, topic, count, sockets, advance)

    async def w2(self, column):
        options = self.options
        topic = await self.topic(column)
        advance = self.bar(
            f"{self.labels['w2']} ({column.name})", options.subscribers * options.events
        )
        return await fanout(
            column, self.target, topic, options.subscribers, options.events, advance
        )

    async def w3(self):
        """RSS per idle socket, each URL once (sample and equal share /ws/),
        all held until every one is measured: the server only grows."""
        if self.target.server_pid is None:
            self.comparison.skipped["W3"] = "needs the server's pid (--server-pid)"
            return
        label, idle = self.labels["w3"], self.options.idle
        held, by_url = [], {}
        try:
            for column in self.columns.values():  # Warm every code path up.
                warm = await self.bounded(
                    connect_many(column.url, self.target, min(50, idle), lambda n: 0)
                )
                await close_all(warm)
            for column in self.columns.values():
                if column.url not in by_url:
                    advance = self.bar(f"{label} ({column.name})", idle)
                    sockets, by_url[column.url] = await self.bounded(
                        hold_idle(column.url, self.target, idle, advance)
                    )
                    held.extend(sockets)
                self.comparison.measurements.append(
                    Measurement(label, column.name, rss_kib=by_url[column.url])
                )
        finally:
            await close_all(held)

    async def compare(self, key, measure):
        """`measure(column)` on each column, `rounds` times, alternating."""
        results = {name: [] for name in self.columns}
        for _ in range(self.options.rounds):
            for name, column in self.columns.items():
                results[name].append(await self.bounded(measure(column)))
        for name, rounds in results.items():
            rounds.sort(key=lambda result: result.rate)
            median = rounds[len(rounds) // 2]
            measurement = Measurement(
                self.labels[key],
                name,
                median.rate,
                median.p50_ms,
                median.p99_ms,
                cpu_us=median.cpu_us,
            )
            if median.missing is not None:  # The worst round's.
                measurement.missing = max(result.missing for result in rounds)
            self.comparison.measurements.append(measurement)

    async def bounded(self, coroutine):
        try:
            async with asyncio.timeout(self.options.timeout):
                return await coroutine
        except TimeoutError:
            raise BenchError(
                f"A workload took more than {self.options.timeout:g} s (--timeout)."
            ) from None

    def bar(self, description, total):
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.advance(task, n)


def workload_labels(options):
    return {
        "w1": "W1 create, 1 socket",
        "w1 many": f"W1 create, {options.sockets} sockets",
        "w2": f"W2 fan-out, {options.subscribers} subscribers",
        "w3": f"W3 idle, {options.idle} sockets",
    }


# The report ------------------------------------------------------------------


def rows(comparison, options):
    """(figure, unit, digits, {column: value}) in the order the table shows."""
    labels = workload_labels(options)
    wanted = (
        (labels["w1"], "rate", "creates/s", 0),
        (labels["w1"], "cpu_us", "server CPU per create, µs", 0),
        (labels["w1"], "p50_ms", "p50 ms", 1),
        (labels["w1 many"], "rate", "creates/s", 0),
        (labels["w1 many"], "p99_ms", "p99 ms", 1),
        (labels["w2"], "rate", "events/s", 0),
        (labels["w2"], "p50_ms", "p50 ms", 1),
        (labels["w2"], "missing", "missing", 0),
        (labels["w3"], "rss_kib", "RSS per socket, KiB", 1),
    )
    for workload, attribute, unit, digits in wanted:
        values = {}
        for column in COLUMNS:
            measurement = comparison.get(workload, column)
            if measurement is not None:
                values[column] = getattr(measurement, attribute)
        if values:
            yield f"{workload}: {unit}", digits, values


def print_comparison(console, comparison, options, target):
    table = Table(title=f"python -m bench --peers: {target.url}")
    table.add_column("figure")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for figure, digits, values in rows(comparison, options):
        cells = [number(values.get(column), digits) for column in COLUMNS]
        table.add_row(figure, *cells)
    console.print(table)
    console.print(
        "Same server, same run: compare columns, not runs (absolute figures "
        "drift 20-30% between runs on a shared machine).",
        markup=False,
    )
    for what, reason in comparison.skipped.items():
        console.print(f"Skipped {what}: {reason}", markup=False)


def write_json(path, comparison, options, target):
    data = {
        "url": target.url,
        "options": asdict(options),
        "measurements": [asdict(m) for m in comparison.measurements],
        "skipped": comparison.skipped,
    }
    with open(path, "w") as file:
        json.dump(data, file, indent=2, ensure_ascii=False)
        file.write("\n")


async def run(target, options, progress):
    """Run the comparison; return a Comparison."""
    return await Peers(target, options, progress).run()


def peer_target(url, cookie, server_pid):
    return Target(url=url, http_url="", cookie=cookie, server_pid=server_pid)
