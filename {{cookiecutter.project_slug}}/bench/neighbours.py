"""N1, the noisy neighbours: what one user (or a stranger) costs everyone else.

`python -m bench --workloads neighbours` (the sample app's topics and
comments). A victim user writes comments into its topic at PACE creates a
second over one socket (its round trips: the request p99) while another of
its sockets subscribes to that topic and is present in it (create event
latency: the event p99). That is measured alone, then during each attack,
each for `seconds`:

- bad-basic: 16 handshakes at a time with a wrong `Authorization: Basic`;
- basic-watches: a Basic-authenticated socket with 10 watches on the
  victim's topic (each create evaluates them);
- replay: a user toggles `is_private` of its own topic `toggles` times
  (HTTP), then subscribes to its comments `since` before them, again and
  again;
- many-sockets: 200 sockets of one user, each sending `topics/list/`;
- signal-storm: 20 sockets of one user present in the victim's topic, each
  signalling as fast as the server lets it (a user of its own: after
  many-sockets, that user's 4008 penalty would refuse every socket);
- watch-memory: 10 anonymous sockets x 20 watches matching a topic of
  `rows` comments; the server's RSS growth (needs --server-pid);
- unrouted: 16 handshakes at a time on a path no route serves.

Each attack comes from a loopback address of its own (127.0.0.2 and up; the
victim is 127.0.0.1), as different clients would: the limits per address
then judge each attack alone, and what one attack spent of its address's
allowance is not charged to the next or to the victim.

A phase holds when both p99s are at most max(2 x alone, alone + 20 ms) (and
the RSS growth at most 100 MB); with --server-log, the ERROR lines the
server wrote during each phase are counted. With --server-pid, the CPU the
server and the attacking process used during each phase is reported (per
cent of one core), to tell what the victim waited for. Every loop stops
after the phase's seconds; loopback only (cli.py checks the URL).
"""

import asyncio
import base64
import http.client
import json
import multiprocessing
import os
import queue
import re
import secrets
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import websockets

from .client import BenchError, close_all, connect, request
from .workloads import percentile, server_rss

PACE = 10  # The victim's creates a second.
HANDSHAKERS = 16  # Concurrent handshakes of bad-basic and unrouted.
BASIC_WATCHES = 10
MANY_SOCKETS = 200
STORM_SOCKETS = 20
MEMORY_SOCKETS, MEMORY_WATCHES = 10, 20
SLACK_MS = 20  # The target: p99 <= max(2 x alone, alone + SLACK_MS).
RSS_TARGET_MB = 100
EVENT_WAIT = 10  # Seconds an event may still arrive after its phase.
REQUEST_TIMEOUT = 30  # Seconds the victim waits for an answer.
ATTACKS = (
    "bad-basic",
    "basic-watches",
    "replay",
    "many-sockets",
    "signal-storm",
    "watch-memory",
    "unrouted",
)
# Each attack's own source address on the loopback network.
ATTACK_ADDRESSES = {name: f"127.0.0.{n}" for n, name in enumerate(ATTACKS, start=2)}


@dataclass
class Options:
    seconds: float = 5.0  # Per phase.
    toggles: int = 1000  # replay: privacy toggles before it.
    rows: int = 50_000  # watch-memory: comments in the watched topic.
    attacks: tuple = ATTACKS
    server_log: str | None = None
    # replay's PATCHes: the Origin (and Referer) the CSRF check expects;
    # None: the server's own (behind a TLS proxy, https://).
    http_origin: str | None = None


@dataclass
class World:
    """What the database holds for the run (prepare(), before the loop)."""

    victim_cookie: str
    attacker_cookie: str
    storm_cookie: str
    attacker_csrf: str
    basic_user: str
    basic_password: str
    victim_topic: int
    attacker_topic: int
    big_topic: int


@dataclass
class Phase:
    name: str
    request_p99_ms: float | None
    event_p99_ms: float | None
    creates: int
    missing_events: int
    request_ratio: float | None = None
    event_ratio: float | None = None
    rss_delta_mb: float | None = None
    server_cpu_percent: float | None = None  # Of one core, during the phase.
    attacker_cpu_percent: float | None = None
    error_lines: int | None = None
    holds: bool | None = None
    attack: dict = field(default_factory=dict)  # What the attacker saw.


def prepare(options, cookie):
    """Write the users, sessions, topics and big table (sync: before the loop)."""
    from django.apps import apps
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from realtime_api.testing import create_session

    from .scenario import DEFAULT
    from .sessions import bench_users

    if DEFAULT is None:
        raise BenchError("--workloads neighbours needs the sample app's comments")
    Comment = apps.get_model(DEFAULT.model)
    Topic = Comment._meta.get_field("topic").related_model

    victim, attacker, basic, storm = bench_users(
        [
            "realtime-bench",
            "realtime-bench-neighbour",
            "realtime-bench-basic",
            "realtime-bench-storm",
        ]
    )
    password = secrets.token_urlsafe(12)
    basic.password = make_password(password)  # The server's hasher: PBKDF2.
    basic.save(update_fields=["password"])
    victim_topic = Topic.objects.create(title="neighbours victim", owner=victim)
    attacker_topic = Topic.objects.create(title="neighbours replay", owner=attacker)
    big, _ = Topic.objects.get_or_create(title="neighbours big table", owner=attacker)
    missing = options.rows - big.comments.count()
    with transaction.atomic():
        for start in range(0, max(missing, 0), 5000):
            Comment.objects.bulk_create(
                Comment(topic=big, author=attacker, text=f"row {start + n}")
                for n in range(min(5000, missing - start))
            )
    from django.conf import settings

    name = settings.SESSION_COOKIE_NAME
    return World(
        victim_cookie=cookie,
        attacker_cookie=f"{name}={create_session(attacker)}",
        storm_cookie=f"{name}={create_session(storm)}",
        attacker_csrf=secrets.token_hex(16),
        basic_user=basic.get_username(),
        basic_password=password,
        victim_topic=victim_topic.pk,
        attacker_topic=attacker_topic.pk,
        big_topic=big.pk,
    )


# The victim ---------------------------------------------------------------------


class Victim:
    """The victim's writer and its subscribed, present reader."""

    def __init__(self, url, target, world):
        self.url, self.target, self.world = url, target, world
        self.sent = {}  # text -> when its create was sent
        self.heard = {}  # text -> when its event arrived
        self.numbers = iter(range(10**9))
        self.timeouts = 0  # Creates of the last measure() never answered.

    async def open(self):
        topic = self.world.victim_topic
        self.writer = await connect(self.url, self.target)
        self.reader = await connect(self.url, self.target)
        reply = await request(self.reader, "comments/subscribe/", {"topic": topic})
        joined = await request(self.reader, f"topics/join/{topic}/", {})
        if (reply.get("status"), joined.get("status")) != (200, 200):
            raise BenchError(f"The victim cannot subscribe or join: {reply} {joined}")
        self.reading = asyncio.create_task(self.read())

    async def read(self):
        try:
            async for text in self.reader:
                frame = json.loads(text)
                if frame.get("type") == "event" and frame.get("action") == "create":
                    data = frame.get("data") or {}
                    self.heard.setdefault(data.get("text"), time.perf_counter())
        except websockets.ConnectionClosed:
            pass

    async def create(self, timeout):
        """One create; its text, and its round trip (`timeout` if no answer)."""
        topic = self.world.victim_topic
        text = f"neighbour {next(self.numbers)} {secrets.token_hex(4)}"
        self.sent[text] = before = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                reply = await request(
                    self.writer, "comments/create/", {"topic": topic, "text": text}
                )
        except TimeoutError:
            self.timeouts += 1
            return text, timeout
        if reply.get("status") != 201:
            raise BenchError(f"The victim's create answered {reply}")
        return text, time.perf_counter() - before

    async def settle(self, alone_ms, limit=REQUEST_TIMEOUT):
        """Wait (up to `limit` s) until a create is about as fast as alone.

        What an attack left queued on the server (hashes, replays) would
        otherwise be charged to the next one.
        """
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            _, spent = await self.create(max(1, deadline - time.perf_counter()))
            if alone_ms is None or 1000 * spent <= max(2 * alone_ms, 50):
                return
            await asyncio.sleep(0.5)

    async def measure(self, seconds):
        """PACE creates a second for `seconds`: (request p99, event p99, ...).

        A create unanswered after REQUEST_TIMEOUT counts as that long (and
        its event as missing); no create starts after `seconds`.
        """
        latencies, texts = [], []
        self.timeouts = 0
        start = time.perf_counter()
        for i in range(int(seconds * PACE)):
            await asyncio.sleep(max(0, start + i / PACE - time.perf_counter()))
            if time.perf_counter() - start > seconds:
                break
            text, spent = await self.create(REQUEST_TIMEOUT)
            latencies.append(spent)
            texts.append(text)
        deadline = time.perf_counter() + EVENT_WAIT
        while time.perf_counter() < deadline and not all(
            t in self.heard for t in texts
        ):
            await asyncio.sleep(0.05)
        events = [self.heard[t] - self.sent[t] for t in texts if t in self.heard]
        missing = len(texts) - len(events)
        return (
            percentile(latencies, 0.99),
            percentile(events, 0.99),
            len(texts),
            missing,
        )

    async def close(self):
        self.reading.cancel()
        await close_all([self.writer, self.reader])


# The attacks --------------------------------------------------------------------


async def handshakes(url, headers, stats, stop, local_addr, origin=None):
    """Open handshakes one after another until `stop`; count the outcomes."""
    while not stop.is_set() and stats.total() < 100_000:
        try:
            ws = await websockets.connect(
                url,
                additional_headers=headers,
                origin=origin,
                open_timeout=10,
                local_addr=local_addr,
            )
        except websockets.InvalidStatus as exc:
            stats[exc.response.status_code] += 1
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            stats[type(exc).__name__] += 1
        else:
            stats[101] += 1
            await ws.close()


async def busy(ws, stats, stop, frames):
    """Send the frames of `frames()` one at a time until `stop`; count answers."""
    try:
        while not stop.is_set():
            path, payload = frames()
            reply = await request(ws, path, payload)
            status = reply.get("status")
            stats[status] += 1
            if status == 429:
                await asyncio.sleep(min((reply.get("data") or {}).get("wait") or 1, 5))
    except websockets.ConnectionClosed as closed:
        stats[f"closed {closed.rcvd.code if closed.rcvd else 1006}"] += 1


async def drain(ws):
    try:
        async for _ in ws:
            pass
    except websockets.ConnectionClosed:
        pass


@asynccontextmanager
async def running(coroutines):
    """Run `coroutines(stop)` while the body measures; then stop them."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c) for c in coroutines(stop)]
    try:
        await asyncio.sleep(0.5)  # The attack is under way.
        yield
    finally:
        stop.set()
        if tasks:  # None when every socket of the attack was refused.
            _, pending = await asyncio.wait(tasks, timeout=15)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def refusal_text(exc):
    """ "refused 429" for a handshake answered HTTP 429, else its last words."""
    status = re.search(r"HTTP (\d{3})", str(exc))
    return f"refused {status.group(1)}" if status else f"failed: {str(exc)[-60:]}"


async def open_sockets(url, target, cookie, count, stats, local_addr):
    """Open `count` sockets (10 handshakes at a time); count the refusals."""
    limit = asyncio.Semaphore(10)

    async def one():
        async with limit:
            try:
                return await connect(url, target, cookie, local_addr=local_addr)
            except BenchError as exc:
                stats[refusal_text(exc)] += 1
                return None

    opened = await asyncio.gather(*(one() for _ in range(count)))
    stats["opened"] += sum(ws is not None for ws in opened)
    return [ws for ws in opened if ws is not None]


def match_all(j, k):
    """The k-th filter of socket j: each different, each matching every row.

    Pagination is no part of a watch's query, so the filters differ by
    their search (a substring of "row <n>", repeated j + 1 times) and
    ordering: 200 live queries, not one shared.
    """
    substrings = ("r", "o", "w", "ro", "ow", "row")
    orderings = ("id", "-id", "created", "-created")
    search = " ".join([substrings[k % 6]] * (j + 1))
    return {"search": search, "ordering": orderings[(k // 6) % 4]}


class Attacks:
    """Each attack: an async context manager that attacks while its body runs."""

    def __init__(self, url, target, world, options, address="127.0.0.1"):
        self.url, self.target, self.world, self.options = url, target, world, options
        self.stats = Counter()
        self.local_addr = (address, 0)  # Where this attack's sockets come from.

    def basic_header(self, user, password):
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @asynccontextmanager
    async def bad_basic(self):
        headers = self.basic_header(f"nobody-{secrets.token_hex(4)}", "x")
        async with running(
            lambda stop: [
                handshakes(self.url, headers, self.stats, stop, self.local_addr)
                for _ in range(HANDSHAKERS)
            ]
        ):
            yield

    @asynccontextmanager
    async def basic_watches(self):
        world = self.world
        headers = self.basic_header(world.basic_user, world.basic_password)
        ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            open_timeout=30,
            max_size=None,
            local_addr=self.local_addr,
        )
        try:
            for k in range(1, BASIC_WATCHES + 1):
                payload = {"topic": world.victim_topic, "page_size": k}
                reply = await request(ws, "comments/watch/", payload)
                self.stats[f"watch {reply.get('status')}"] += 1
            reading = asyncio.create_task(drain(ws))
            yield
            reading.cancel()
        finally:
            await close_all([ws])

    @asynccontextmanager
    async def replay(self):
        topic = self.world.attacker_topic
        cookie = self.world.attacker_cookie
        ws = await connect(self.url, self.target, cookie, local_addr=self.local_addr)
        try:
            await request(ws, "comments/subscribe/", {"topic": topic})
            since = await self.seq_before_create(ws, topic)
            started = time.perf_counter()
            await asyncio.to_thread(self.toggle, topic, self.options.toggles)
            self.stats["toggle seconds"] = round(time.perf_counter() - started, 1)
            frame = {"topic": topic}

            async def resubscribe(stop):
                while not stop.is_set():
                    before = time.perf_counter()
                    await ws.send(
                        json.dumps(
                            {
                                "stream": "comments/subscribe/",
                                "payload": frame,
                                "since": since,
                                "request_id": "replay",
                            }
                        )
                    )
                    while True:
                        reply = json.loads(await ws.recv())
                        if reply.get("request_id") == "replay":
                            break
                    self.stats[f"replay {reply.get('status')}"] += 1
                    slowest = self.stats["slowest replay ms"]
                    spent = round(1000 * (time.perf_counter() - before))
                    self.stats["slowest replay ms"] = max(slowest, spent)

            async with running(lambda stop: [resubscribe(stop)]):
                yield
        finally:
            await close_all([ws])

    async def seq_before_create(self, ws, topic):
        """Create a comment; return the `seq` just before its event."""
        payload = {"topic": topic, "text": "since"}
        frame = {"stream": "comments/create/", "payload": payload, "request_id": "c"}
        await ws.send(json.dumps(frame))
        answered, seq = False, None
        async with asyncio.timeout(20):
            while not answered or seq is None:
                frame = json.loads(await ws.recv())
                if frame.get("request_id") == "c":
                    answered = True
                elif frame.get("type") == "event" and "seq" in frame:
                    seq = frame["seq"] - 1
        return seq

    def toggle(self, topic, count):
        """`count` PATCHes of the topic's is_private over one HTTP connection."""
        parts = urlsplit(self.url)
        origin = self.options.http_origin or self.target.origin
        conn = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=30, source_address=self.local_addr
        )
        headers = {
            "Cookie": f"{self.world.attacker_cookie}; "
            f"csrftoken={self.world.attacker_csrf}",
            "X-CSRFToken": self.world.attacker_csrf,
            "Origin": origin,
            "Referer": f"{origin}/",
            "Content-Type": "application/json",
        }
        try:
            for i in range(count):
                body = json.dumps({"is_private": i % 2 == 0})
                conn.request("PATCH", f"/api/topics/{topic}/", body, headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise BenchError(f"PATCH /api/topics/{topic}/: {response.status}")
        finally:
            conn.close()

    @asynccontextmanager
    async def many_sockets(self):
        cookie = self.world.attacker_cookie
        sockets = await open_sockets(
            self.url, self.target, cookie, MANY_SOCKETS, self.stats, self.local_addr
        )
        try:
            async with running(
                lambda stop: [
                    busy(ws, self.stats, stop, lambda: ("topics/list/", {}))
                    for ws in sockets
                ]
            ):
                yield
        finally:
            await close_all(sockets)

    @asynccontextmanager
    async def signal_storm(self):
        topic = self.world.victim_topic
        cookie = self.world.storm_cookie
        sockets = await open_sockets(
            self.url, self.target, cookie, STORM_SOCKETS, self.stats, self.local_addr
        )
        try:
            for ws in sockets:
                reply = await request(ws, f"topics/join/{topic}/", {})
                self.stats[f"join {reply.get('status')}"] += 1
            numbers = iter(range(10**9))
            path = f"topics/signal/{topic}/"
            async with running(
                lambda stop: [
                    busy(
                        ws,
                        self.stats,
                        stop,
                        lambda: (path, {"n": next(numbers), "typing": True}),
                    )
                    for ws in sockets
                ]
            ):
                yield
        finally:
            await close_all(sockets)

    @asynccontextmanager
    async def watch_memory(self):
        sockets = await open_sockets(
            self.url, self.target, "", MEMORY_SOCKETS, self.stats, self.local_addr
        )
        topic = self.world.big_topic
        try:
            for j, ws in enumerate(sockets):
                for k in range(MEMORY_WATCHES):
                    payload = {"topic": topic, **match_all(j, k)}
                    reply = await request(ws, "comments/watch/", payload)
                    self.stats[f"watch {reply.get('status')}"] += 1
            readers = [asyncio.create_task(drain(ws)) for ws in sockets]
            yield
            for reader in readers:
                reader.cancel()
        finally:
            await close_all(sockets)

    @asynccontextmanager
    async def unrouted(self):
        parts = urlsplit(self.url)
        url = urlunsplit(parts._replace(path=parts.path + "neighbours/nowhere/"))
        async with running(
            lambda stop: [
                handshakes(
                    url, {}, self.stats, stop, self.local_addr, self.target.origin
                )
                for _ in range(HANDSHAKERS)
            ]
        ):
            yield


# The run ------------------------------------------------------------------------


@asynccontextmanager
async def in_process(name, url, target, world, options, stats, cpu):
    """Run attack `name` in a process of its own while the body measures.

    Its sockets and handshakes then cost the measuring loop nothing: what
    the victim sees is the server's doing. `stats` gets what it counted;
    cpu["attacker"] the CPU seconds the process used while the body ran.
    """
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(
        target=attack_process,
        args=(name, url, target, world, options, ready, stop, results),
        daemon=True,
    )
    process.start()
    failed = None
    try:
        started = time.monotonic()
        while not await asyncio.to_thread(ready.wait, 1):
            if not process.is_alive() or time.monotonic() - started > 600:
                raise BenchError(f"The {name} attack did not start.")
        if not results.empty():
            # Its one result: not waited for again below.
            failed = results.get()
            raise BenchError(f"The {name} attack failed: {failed['error']}")
        before = cpu_seconds(process.pid)
        yield
        after = cpu_seconds(process.pid)
        if before is not None and after is not None:
            cpu["attacker"] = after - before
    finally:
        stop.set()
        try:
            stats.update(failed or await asyncio.to_thread(results.get, True, 120))
        except queue.Empty:
            stats["error"] = "no figures"
        process.join(10)
        if process.is_alive():
            process.kill()


def attack_process(name, url, target, world, options, ready, stop, results):
    """In the attack's process: attack from `ready` until `stop`."""
    try:
        results.put(
            asyncio.run(attack_until(name, url, target, world, options, ready, stop))
        )
    except BaseException as exc:
        results.put({"error": repr(exc)})
        ready.set()


async def attack_until(name, url, target, world, options, ready, stop):
    attacks = Attacks(url, target, world, options, ATTACK_ADDRESSES[name])
    async with getattr(attacks, name.replace("-", "_"))():
        ready.set()
        await asyncio.to_thread(stop.wait, options.seconds + 600)
    return dict(attacks.stats)


def cpu_seconds(pid):
    """User + system CPU seconds process `pid` has used, or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The fields after the command name (which may hold spaces).
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LogWatch:
    """Counts the ERROR lines the server writes to its log file."""

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.offset = self.size()

    def size(self):
        return self.path.stat().st_size if self.path and self.path.exists() else 0

    def errors_since_last(self):
        if self.path is None:
            return None
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            text = log.read().decode("utf-8", "replace")
            self.offset = log.tell()
        return sum(
            " ERROR " in line or "Traceback" in line for line in text.splitlines()
        )


async def run(target, world, options, progress=None):
    """Measure the victim alone, then during each attack: the Phases."""
    url = target.url
    victim = Victim(url, target, world)
    await victim.open()
    log = LogWatch(options.server_log)
    phases = []
    try:
        await victim.measure(1)  # Warm up.
        log.errors_since_last()
        pid = target.server_pid
        cpu_before, started = cpu_seconds(pid) if pid else None, time.time()
        alone = Phase("alone", *await victim.measure(options.seconds))
        cpu_after = cpu_seconds(pid) if pid else None
        if cpu_before is not None and cpu_after is not None:
            spent = time.time() - started
            alone.server_cpu_percent = round(100 * (cpu_after - cpu_before) / spent)
        alone.error_lines = log.errors_since_last()
        phases.append(alone)
        for name in options.attacks:
            await victim.settle(alone.request_p99_ms)
            log.errors_since_last()
            rss_before = server_rss(pid) if pid else None
            stats, cpu = {}, {}
            async with in_process(name, url, target, world, options, stats, cpu):
                cpu_before, started = cpu_seconds(pid) if pid else None, time.time()
                figures = await victim.measure(options.seconds)
                cpu_after, spent = cpu_seconds(pid) if pid else None, time.time()
                rss_after = server_rss(pid) if pid else None
            phase = Phase(name, *figures, attack=stats)
            spent -= started
            if cpu_before is not None and cpu_after is not None:
                phase.server_cpu_percent = round(100 * (cpu_after - cpu_before) / spent)
            if "attacker" in cpu:
                phase.attacker_cpu_percent = round(100 * cpu["attacker"] / spent)
            if victim.timeouts:
                phase.attack["victim creates unanswered"] = victim.timeouts
            if rss_before is not None and rss_after is not None:
                phase.rss_delta_mb = round((rss_after - rss_before) / 2**20, 1)
            phase.error_lines = log.errors_since_last()
            judge(phase, alone)
            phases.append(phase)
            if progress:
                progress(phase)
    finally:
        await victim.close()
    return phases


def judge(phase, alone):
    """Fill the ratios and whether the phase holds the targets."""
    holds = True
    for kind in ("request", "event"):
        value = getattr(phase, f"{kind}_p99_ms")
        base = getattr(alone, f"{kind}_p99_ms")
        if value is None or not base:
            holds = False
            continue
        setattr(phase, f"{kind}_ratio", round(value / base, 2))
        holds = holds and value <= max(2 * base, base + SLACK_MS)
    if phase.missing_events:
        holds = False
    if phase.rss_delta_mb is not None and phase.name == "watch-memory":
        holds = holds and phase.rss_delta_mb <= RSS_TARGET_MB
    if phase.error_lines:
        holds = False
    phase.holds = holds


def as_dict(phases):
    return {"neighbours": [asdict(phase) for phase in phases]}


def print_table(console, phases, options):
    """The phases side by side with the victim alone, and the targets."""
    from rich.table import Table

    table = Table(
        title=f"N1 noisy neighbours: victim at {PACE} creates/s, "
        f"{options.seconds:g} s per phase"
    )
    for name in (
        "phase",
        "request p99 ms",
        "x alone",
        "event p99 ms",
        "x alone",
        "missing",
        "RSS +MB",
        "server CPU %",
        "attacker CPU %",
        "ERROR lines",
        "holds",
    ):
        table.add_column(name, justify="left" if name == "phase" else "right")

    def show(value, digits=1):
        return "-" if value is None else f"{value:.{digits}f}"

    for phase in phases:
        holds = "" if phase.holds is None else ("yes" if phase.holds else "NO")
        table.add_row(
            phase.name,
            show(phase.request_p99_ms),
            show(phase.request_ratio, 2),
            show(phase.event_p99_ms),
            show(phase.event_ratio, 2),
            str(phase.missing_events),
            show(phase.rss_delta_mb),
            show(phase.server_cpu_percent, 0),
            show(phase.attacker_cpu_percent, 0),
            "-" if phase.error_lines is None else str(phase.error_lines),
            holds,
        )
    console.print(table)
    console.print(
        f"Holds: both p99 <= max(2 x alone, alone + {SLACK_MS} ms), no event "
        f"missing, no ERROR line, and for watch-memory RSS <= +{RSS_TARGET_MB} MB.",
        markup=False,
    )
    for phase in phases[1:]:
        seen = ", ".join(f"{key}: {value}" for key, value in phase.attack.items())
        console.print(f"{phase.name}: {seen}", markup=False)
