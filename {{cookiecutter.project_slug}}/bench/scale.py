"""`python -m bench.scale`: what sockets and server processes cost, as curves.

It starts everything itself, on loopback: P daphne processes as the shipped
systemd unit starts them (production settings, the Redis at REDIS_URL, the
database at DATABASE_URL or SQLite), the shipped nginx site in front of them
(deploy/nginx.conf, without TLS), and N sockets through nginx, which spreads
them over the processes (least_conn). For each (P, N) it measures:

- the time to accept all N sockets (handshakes 200 at a time), and RSS per
  socket in each process (its RSS growth over the sockets it holds);
- fan-out: S of the sockets subscribe to one topic's comments, one writer
  creates comments at a steady rate for some seconds; event latency p50/p99
  across processes (create sent -> event received), deliveries per second,
  missing events, Redis commands per event, server CPU per delivery;
- a restart: one process is stopped and started again; its sockets
  reconnect through nginx with the clients' backoff (realtime_api.client's
  Backoff: reset only after a socket stayed open --stable-after seconds,
  Retry-After honoured on 429 and 503; `--stable-after 0` resets on every
  open, as the clients did before) and resume their subscriptions with
  `since`: the time until every socket is back, the handshakes it took,
  how many were refused 429 or 503, and missing events. The writer goes on
  meanwhile: the event p99 of the sockets the restart did not drop, during
  the storm against before it, says whether the reconnects starve the
  processes that take them.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.scale \\
        --processes 1,2,4 --sockets 1000,5000,10000 --plot bench/scale

The sockets are anonymous (one visibility: the cheapest fan-out); the writer
has a token. The servers' per-address budgets and handshake rate, and
nginx's, are raised for the run (all sockets come from 127.0.0.1); the bound
on handshakes in flight per process stays (--server-env
REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT=0 lifts it); --server-env sets more
settings. nginx's site-wide pace of handshakes stays as shipped
(--site-handshakes sets another rate), and the processes listen with the
systemd unit's backlog (--backlog). BENCHMARKS.md
("Scale") shows a run's table and plots, and how to read them.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
import websockets

from realtime_api.client import Backoff, HandshakeRefused, RealtimeError, open_socket
from realtime_api.client.backoff import STABLE_AFTER, after_retry_after
from realtime_api.testing.live_server import DaphneServer, database_url, http_get

from .cli import setup_django
from .nginx import NginxServer, unit_backlog, unit_daphne_options
from .workloads import percentile, server_cpu_seconds, server_rss

HANDSHAKES_AT_ONCE = 200
# What a handshake meets while a process restarts.
REFUSED = (OSError, TimeoutError, websockets.WebSocketException, RealtimeError)


@dataclass
class Point:
    """The figures of one (processes, sockets) run."""

    processes: int
    sockets: int
    subscribed: int
    accept_seconds: float
    rss_kib_per_socket: list  # one per process
    events: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    deliveries_per_second: float = 0.0
    missing: int = 0
    redis_commands_per_event: float | None = None
    cpu_us_per_delivery: float | None = None
    restarted_sockets: int = 0
    reconnect_seconds: float | None = None
    missing_after_restart: int = 0
    # The sockets the restart did not drop, on the other processes: their
    # event p99 in the fan-out above and while the dropped ones came back.
    others_p99_before_ms: float | None = None
    others_p99_storm_ms: float | None = None
    storm_events: int = 0
    restart_handshakes: int = 0  # attempted by the load during the restart
    restart_refused: dict = field(default_factory=dict)  # status -> count
    # nginx's error log during the restart: what went wrong -> count.
    restart_nginx_errors: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


class Stack:
    """P daphne processes behind nginx; stopped by `close()`."""

    def __init__(self, processes, sockets, env, folder, site_handshakes, backlog):
        options = unit_daphne_options()
        self.servers = [
            DaphneServer(env=env, options=options, backlog=backlog)
            for _ in range(processes)
        ]
        binary = shutil.which("nginx", path=f"{os.environ['PATH']}:/usr/sbin")
        if binary is None:
            sys.exit("python -m bench.scale: needs nginx (apt-get install nginx)")
        static = folder / "static"
        static.mkdir()
        self.nginx = NginxServer(
            binary,
            folder,
            [server.port for server in self.servers],
            static,
            # Two descriptors a socket, at most half the file limit a worker.
            workers=1 + 4 * sockets // resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            # Every socket of the load is one address: nginx's handshake rate
            # per address would admit 20 a second. The site-wide pace and the
            # processes' bound on handshakes in flight are what the restart
            # measures.
            handshake_limit=(100_000, 100_000),
            site_handshake_limit=site_handshakes,
            worker_connections=2 * sockets + 1000,
        )

    def start(self):
        for server in self.servers:
            server.start()
            wait_until_ready(server)
        self.nginx.start()
        return self

    def close(self):
        self.nginx.stop()
        for server in self.servers:
            server.stop()

    @property
    def url(self):
        return f"{self.nginx.ws_url}/ws/"

    @property
    def origin(self):
        # nginx tells the application the request came over HTTPS.
        return f"https://127.0.0.1:{self.nginx.port}"

    def pids(self):
        return [server.process.pid for server in self.servers]

    def error_log_size(self):
        return (self.nginx.prefix / "error.log").stat().st_size

    def errors_since(self, offset):
        """nginx's error lines after `offset`, counted by what failed."""
        with open(self.nginx.prefix / "error.log", "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return dict(Counter(nginx_error_kind(line) for line in text.splitlines()))


# "... [error] 12#12: *345 connect() failed (111: Connection refused) while
# connecting to upstream, client: ..." -> "connect() failed (111: ...)"
NGINX_ERROR = re.compile(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:,| while |$)")


def nginx_error_kind(line):
    found = NGINX_ERROR.search(line)
    return f"{found[1]}: {found[2]}" if found else line[:80]


def wait_until_ready(server, timeout=60):
    url = f"http://127.0.0.1:{server.port}/readyz"
    deadline = time.monotonic() + timeout
    while http_get(url, timeout=timeout).status != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready:\n{server.log()}")
        time.sleep(0.2)


class Handshakes:
    """What the load's sockets attempted: handshakes, and refusals by status."""

    def __init__(self):
        self.attempted = 0
        self.refused = {}

    def reset(self):
        self.attempted, self.refused = 0, {}

    def count_refusal(self, status):
        self.refused[status] = self.refused.get(status, 0) + 1


class Socket:
    """One of the load's sockets: it reads events and reconnects when closed."""

    def __init__(self, stack, handshakes, stable_after, subscribe=None):
        self.stack = stack
        self.handshakes = handshakes
        self.backoff = Backoff(0.5, 10.0, stable_after)
        self.subscribe = subscribe  # (stream path, filter), or None: idle
        self.ws = None
        self.last_seq = None
        self.arrivals = []  # (comment id, time received)
        self.fan_out_latencies = []  # seconds, kept for the restart's comparison
        self.closed_at = None
        self.back_at = None
        self.refused = None  # the status of a refused subscribe, if one was

    async def open(self):
        self.handshakes.attempted += 1
        try:
            self.ws = await open_socket(
                self.stack.url,
                origin=self.stack.origin,
                open_timeout=60,
                compression=None,
                ping_interval=None,
                max_size=None,
            )
        except HandshakeRefused as refused:
            self.handshakes.count_refusal(refused.status)
            raise
        self.backoff.opened()
        if self.subscribe is not None:
            path, filter_ = self.subscribe
            frame = {"stream": path, "payload": filter_, "request_id": 1}
            if self.last_seq is not None:
                frame["since"] = self.last_seq
            await self.ws.send(json.dumps(frame))

    async def run(self):
        """Read until the load ends; reconnect (with backoff) whenever closed."""
        while True:
            try:
                async for text in self.ws:
                    self._received(json.loads(text))
            except websockets.ConnectionClosed:
                pass
            code = self.ws.close_code
            self.closed_at = time.perf_counter()
            retry_after = None
            while True:
                await asyncio.sleep(self.backoff.next_delay(code, retry_after))
                try:
                    await self.open()
                    break
                except HandshakeRefused as refused:  # 429, 503 (or 502: no process)
                    retry_after = refused.retry_after
                except REFUSED:
                    retry_after = None
            self.back_at = time.perf_counter()

    def _received(self, frame):
        if frame.get("type") == "response" and frame.get("status", 200) >= 400:
            self.refused = frame["status"]
        if frame.get("type") != "event":
            return
        self.last_seq = frame.get("seq", self.last_seq)
        if frame.get("action") == "create":
            self.arrivals.append((frame["data"]["id"], time.perf_counter()))


async def open_all(sockets):
    limit = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def one(sock):
        async with limit:
            while True:
                try:
                    await sock.open()
                    return
                except HandshakeRefused as refused:  # The server is busy: later.
                    if not refused.temporary:
                        raise
                    await asyncio.sleep(after_retry_after(refused.retry_after, 0.5))

    await asyncio.gather(*(one(sock) for sock in sockets))


async def settled(pids):
    await asyncio.sleep(2)
    return [server_rss(pid) for pid in pids]


def socket_counts(pids):
    """How many sockets (file descriptors) each process holds now."""
    counts = []
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        counts.append(
            sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))
        )
    return counts


def redis_commands(url):
    return redis.Redis.from_url(url).info("stats")["total_commands_processed"]


async def measure(processes, count, args, writer_token, topic, env):
    """One (P, N) point: accept, idle memory, fan-out, and a restart."""
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    site = None if args.site_handshakes is None else (args.site_handshakes, None)
    stack = Stack(processes, count, env, folder, site, args.backlog).start()
    try:
        return await measure_on(stack, processes, count, args, writer_token, topic)
    finally:
        stack.close()
        shutil.rmtree(folder, ignore_errors=True)


async def measure_on(stack, processes, count, args, writer_token, topic):
    pids = stack.pids()
    subscribed = min(count, args.subscribed)
    filter_ = ("comments/subscribe/", {"topic": topic})
    handshakes = Handshakes()
    stable = args.stable_after
    sockets = [
        Socket(stack, handshakes, stable, filter_ if n < subscribed else None)
        for n in range(count)
    ]
    before, sockets_before = await settled(pids), socket_counts(pids)
    started = time.perf_counter()
    await open_all(sockets)
    accept = time.perf_counter() - started
    after, sockets_after = await settled(pids), socket_counts(pids)
    per_socket = [
        (a - b) / 1024 / max(1, n_after - n_before)
        for a, b, n_after, n_before in zip(
            after, before, sockets_after, sockets_before, strict=True
        )
    ]
    point = Point(processes, count, subscribed, accept, per_socket)
    readers = [asyncio.create_task(sock.run()) for sock in sockets]
    writer = Writer(stack, writer_token)
    await writer.open()
    try:
        await asyncio.sleep(1)  # Let the subscriptions be answered.
        await fan_out(point, stack, sockets, writer, topic, args)
        await restart(point, stack, sockets, writer, topic, args, handshakes)
    finally:
        for reader in readers:
            reader.cancel()
        await writer.close()
        await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)
    return point


class Writer:
    """The load's writer: one token socket, reopened when its server restarts."""

    def __init__(self, stack, token):
        self.stack, self.token, self.ws = stack, token, None

    async def open(self):
        self.ws = await open_socket(self.stack.url, token=self.token, open_timeout=60)

    async def close(self):
        await self.ws.close()

    async def create(self, topic, i):
        """Create comment `i`; return its id (retried on a new socket if closed)."""
        frame = {"stream": "comments/create/", "request_id": i}
        frame["payload"] = {"topic": topic, "text": f"scale {i}"}
        while True:
            try:
                await self.ws.send(json.dumps(frame))
                while (reply := json.loads(await self.ws.recv()))["type"] != "response":
                    pass
                break
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.5)
                with contextlib.suppress(*REFUSED):
                    await self.open()
        if reply["status"] != 201:
            raise RuntimeError(f"create answered {reply['status']}: {reply['data']}")
        return reply["data"]["id"]

    async def write(self, topic, count, rate, until=None):
        """Create `count` comments at `rate` per second, or fewer if the event
        `until` is set first; return {id: time sent}."""
        sent = {}
        due = time.perf_counter()
        for i in range(count):
            if until is not None and until.is_set():
                break
            await asyncio.sleep(max(0, due - time.perf_counter()))
            before = time.perf_counter()
            sent[await self.create(topic, i)] = before
            # A late create (the writer's process restarting) is not made up
            # for with a burst: the rate stays at most `rate`.
            due = max(due + 1 / rate, time.perf_counter())
        return sent


async def all_heard(listeners, sent, timeout=30):
    """Wait until every listener has heard every event sent (or `timeout`
    seconds without progress): what has not arrived by then is missing."""
    wanted = len(sent) * len(listeners)
    heard, quiet_since = -1, time.perf_counter()
    while time.perf_counter() - quiet_since < timeout:
        now = sum(1 for s in listeners for key, _at in s.arrivals if key in sent)
        if now >= wanted:
            return
        if now != heard:
            heard, quiet_since = now, time.perf_counter()
        await asyncio.sleep(0.2)


async def fan_out(point, stack, sockets, writer, topic, args):
    pids = stack.pids()
    listeners = [sock for sock in sockets if sock.subscribe is not None]
    commands = redis_commands(args.redis_url)
    cpu = [server_cpu_seconds(pid) for pid in pids]
    started = time.perf_counter()
    sent = await writer.write(topic, round(args.rate * args.seconds), args.rate)
    await all_heard(listeners, sent)
    cpu = sum(server_cpu_seconds(pid) - c for pid, c in zip(pids, cpu, strict=True))
    for sock in listeners:
        sock.fan_out_latencies = latencies_of(sock, sent)
    latencies = [t for sock in listeners for t in sock.fan_out_latencies]
    last = max((t for s in listeners for k, t in s.arrivals if k in sent), default=0)
    point.events = len(sent)
    point.missing = len(sent) * len(listeners) - len(latencies)
    refused = [sock.refused for sock in listeners if sock.refused is not None]
    if refused:  # Their events are among the missing: say why.
        point.notes.append(f"{len(refused)} subscriptions refused ({max(refused)})")
    if latencies:
        point.latency_p50_ms = percentile(latencies, 0.5)
        point.latency_p99_ms = percentile(latencies, 0.99)
        point.deliveries_per_second = len(latencies) / (last - started)
        point.cpu_us_per_delivery = 1e6 * cpu / len(latencies)
    point.redis_commands_per_event = (redis_commands(args.redis_url) - commands) / max(
        1, len(sent)
    )
    for sock in listeners:
        sock.arrivals.clear()


def latencies_of(sock, sent):
    return [at - sent[key] for key, at in sock.arrivals if key in sent]


async def restart(point, stack, sockets, writer, topic, args, handshakes):
    """Restart the last process under its sockets; time their return.

    The writer goes on at --rate from the stop until every dropped socket is
    back: the dropped ones resume with `since` (none may miss an event), and
    the others, on the processes that take the reconnect storm, show
    whether it starves them (their p99 then against their fan-out p99).
    """
    server = stack.servers[-1]
    for sock in sockets:
        sock.closed_at = sock.back_at = None
    handshakes.reset()
    log_offset = stack.error_log_size()
    all_back = asyncio.Event()
    # At least one second of events, as many as the storm lasts.
    writes = asyncio.create_task(writer.write(topic, 10**9, args.rate, until=all_back))
    stopped = time.perf_counter()
    server.stop()
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(wait_until_ready, server)
    deadline = time.perf_counter() + args.reconnect_timeout
    dropped = [sock for sock in sockets if sock.closed_at is not None]
    while any(sock.back_at is None for sock in dropped):
        if time.perf_counter() > deadline:
            point.notes.append("not every socket was back in time")
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(max(0, stopped + 1 - time.perf_counter()))
    all_back.set()
    sent = await writes
    listeners = [sock for sock in sockets if sock.subscribe is not None]
    await all_heard(listeners, sent)
    others = [sock for sock in listeners if sock.closed_at is None]
    before = [t for sock in others for t in sock.fan_out_latencies]
    during = [t for sock in others for t in latencies_of(sock, sent)]
    if before and during:
        point.others_p99_before_ms = percentile(before, 0.99)
        point.others_p99_storm_ms = percentile(during, 0.99)
    point.storm_events = len(sent)
    point.restarted_sockets = len(dropped)
    point.restart_handshakes = handshakes.attempted
    point.restart_refused = dict(sorted(handshakes.refused.items()))
    point.restart_nginx_errors = stack.errors_since(log_offset)
    backs = [sock.back_at for sock in dropped if sock.back_at is not None]
    if backs:
        point.reconnect_seconds = max(backs) - stopped
    heard = sum(1 for s in listeners for key, _at in s.arrivals if key in sent)
    point.missing_after_restart = len(sent) * len(listeners) - heard


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Start P daphne processes behind nginx, open N sockets "
        "through it, and measure memory, fan-out and a restart (bench/scale.py).",
    )
    numbers = lambda text: [int(n) for n in text.split(",")]  # noqa: E731
    parser.add_argument("--processes", type=numbers, default=[1, 2, 4])
    parser.add_argument("--sockets", type=numbers, default=[1000, 5000, 10_000])
    parser.add_argument(
        "--subscribed", type=int, default=1000, help="Sockets that subscribe."
    )
    parser.add_argument("--rate", type=float, default=10, help="Events per second.")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reconnect-timeout", type=float, default=120)
    parser.add_argument(
        "--stable-after",
        type=float,
        default=STABLE_AFTER,
        help="Seconds a socket must stay open before its backoff resets "
        "(0: on every open, the clients' old behaviour).",
    )
    parser.add_argument(
        "--site-handshakes",
        type=int,
        help="nginx's site-wide WebSocket handshakes a second (default: "
        "deploy/nginx.conf's, and its burst).",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=unit_backlog(),
        help="The processes' listen backlog (default: the systemd unit's, "
        "%(default)s; Twisted's own is 50).",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A setting for the servers (repeatable).",
    )
    parser.add_argument("--json", help="Write the figures to this file.")
    parser.add_argument(
        "--from-json",
        action="append",
        default=[],
        metavar="FILE",
        help="Measure nothing: print the table (and --plot) of the points "
        "that earlier runs wrote with --json (repeatable).",
    )
    parser.add_argument(
        "--plot", help="Write PNG plots to PREFIX-latency.png, PREFIX-memory.png."
    )
    return parser


def server_env(args):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ENV_FILE": "",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(),
        "REDIS_URL": args.redis_url,
        # Every socket of the load is one anonymous address (127.0.0.1,
        # through one proxy): its budgets would refuse most of the load.
        "REALTIME_API_MAX_SOCKETS_PER_ADDRESS": "0",  # 0: no budget
        "REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS": "0",
        "REALTIME_API_USER_FRAME_RATE": "0",
        "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER": "0",
    }
    for item in args.server_env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def raise_file_limit(sockets):
    """Each socket takes a descriptor here and one in a server (which inherits
    this limit); nginx raises its own (worker_rlimit_nofile) and shares the
    sockets among more workers when one would pass the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1000
    if soft >= wanted:
        return
    try:  # Above the hard limit only as root.
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        sys.exit(
            f"python -m bench.scale: the file limit is {hard}, {wanted} needed "
            f"for {sockets} sockets: raise it (ulimit -Hn, or LimitNOFILE)"
        )


def setup_load():
    """The writer's token and a public topic, in the servers' database.

    The database is migrated first: the servers use it as it is.
    """
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from discussion.models import Topic

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="realtime-bench-scale")
    token, _ = Token.objects.get_or_create(user=user)
    topic = Topic.objects.create(title="scale", owner=user)
    return token.key, topic.pk


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.from_json:
        points = [
            Point(**figures)
            for name in args.from_json
            for figures in json.loads(Path(name).read_text())
        ]
        report(points, args)
        return 0
    args.redis_url = os.environ.get("REDIS_URL")
    if not args.redis_url:
        sys.exit("python -m bench.scale: set REDIS_URL (the processes share Redis)")
    # Stopped by a signal, it stops its servers and nginx too (`finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    setup_django()
    raise_file_limit(max(args.sockets))
    random.seed(0)
    token, topic = setup_load()
    env = server_env(args)
    points = []
    for processes in args.processes:
        for count in args.sockets:
            print(f"{processes} processes, {count} sockets ...", flush=True)
            point = asyncio.run(measure(processes, count, args, token, topic, env))
            print("  " + json.dumps(asdict(point)), flush=True)
            points.append(point)
    report(points, args)
    return 0


def report(points, args):
    print_table(points)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(p) for p in points], indent=2))
    if args.plot:
        from .scale_plot import plot

        for path in plot(points, args.plot):
            print(f"wrote {path}")


def print_table(points):
    header = (
        "| processes | sockets | accept s | KiB/socket | p50 ms | p99 ms "
        "| deliveries/s | missing | Redis cmds/event | CPU us/delivery "
        "| restarted | back after s | missing after "
        "| others' p99 ms, before / during |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for p in points:
        kib = "/".join(f"{k:.1f}" for k in p.rss_kib_per_socket)
        print(
            f"| {p.processes} | {p.sockets} | {p.accept_seconds:.1f} | {kib} "
            f"| {fmt(p.latency_p50_ms)} | {fmt(p.latency_p99_ms)} "
            f"| {p.deliveries_per_second:,.0f} | {p.missing} "
            f"| {fmt(p.redis_commands_per_event)} | {fmt(p.cpu_us_per_delivery)} "
            f"| {p.restarted_sockets} | {fmt(p.reconnect_seconds)} "
            f"| {p.missing_after_restart} "
            f"| {fmt(p.others_p99_before_ms)} / {fmt(p.others_p99_storm_ms)} |"
        )


def fmt(value):
    return "-" if value is None else f"{value:,.1f}"


if __name__ == "__main__":
    sys.exit(main())
