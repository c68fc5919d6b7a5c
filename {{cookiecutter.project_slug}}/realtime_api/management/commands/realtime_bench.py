"""`manage.py realtime_bench`: how many sockets and events can the server take?

Drives a running server over real WebSockets (see realtime_api/bench/load.py
for the workloads and BENCHMARKS.md for how to read the figures)::

    daphne realtime_api.bench.asgi:application &
    python manage.py realtime_bench --server-pid $! --json bench.json
"""

import asyncio
import ipaddress
import json
import secrets
from dataclasses import asdict
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from realtime_api.bench import load
from realtime_api.testing import create_session

BENCH_USERNAME = "realtime-bench"
# Upper bounds of the sizes, so a typo cannot exhaust the machine.
LIMITS = {"requests": 100_000, "sockets": 500, "subscribers": 5000, "events": 10_000}
LIMITS["idle"] = 20_000


def json_object(text):
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"Not JSON: {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise CommandError(f"Not a JSON object: {text!r}")
    return value


class Command(BaseCommand):
    help = (
        "Load a running server over real WebSockets: create round trips, "
        "fan-out to subscribers and idle sockets, compared with a minimal "
        "Channels consumer and with HTTP. See BENCHMARKS.md."
    )

    def add_arguments(self, parser):
        scenario = load.Scenario()
        parser.add_argument(
            "--url",
            default="ws://127.0.0.1:8000/ws/",
            help="The API socket of the running server (default: %(default)s).",
        )
        parser.add_argument(
            "--reference-url",
            help="The reference endpoint (default: /bench/minimal/ on --url's "
            "server, served by realtime_api.bench.asgi). 'none' skips it.",
        )
        parser.add_argument(
            "--http-url",
            help="Where the same create is POSTed over HTTP (default: the "
            "stream's router URL on --url's server).",
        )
        parser.add_argument(
            "--session",
            help="The session cookie to authenticate with. Default: the "
            f"command creates the user '{BENCH_USERNAME}' and a session for it "
            "in this project's database, which the server must share.",
        )
        parser.add_argument(
            "--server-pid",
            type=int,
            help="The server's process id, to measure its memory (W3).",
        )
        sizes = parser.add_argument_group("sizes")
        sizes.add_argument("--requests", type=int, default=500, help="W1/HTTP creates")
        sizes.add_argument(
            "--sockets", type=int, default=20, help="W1 concurrent sockets"
        )
        sizes.add_argument(
            "--subscribers",
            type=int,
            default=200,
            help="W2 subscribed sockets, W4 watching sockets",
        )
        sizes.add_argument("--events", type=int, default=50, help="W2 and W4 creates")
        sizes.add_argument("--idle", type=int, default=1000, help="W3 idle sockets")
        sizes.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="Repeat each measurement; the median round counts.",
        )
        sizes.add_argument(
            "--timeout",
            type=float,
            default=120,
            help="Seconds allowed per workload (default: %(default)s).",
        )
        sizes.add_argument(
            "--workloads",
            default="w1,http,w2,w3,w4",
            help="Which to run, comma-separated (default: %(default)s).",
        )
        what = parser.add_argument_group("what is created (defaults: sample app)")
        what.add_argument("--stream", default=scenario.stream)
        what.add_argument(
            "--payload",
            type=json_object,
            default=scenario.payload,
            help='The create payload; "{parent}" and "{i}" are replaced.',
        )
        what.add_argument(
            "--subscribe",
            type=json_object,
            default=scenario.subscribe,
            help="The W2 subscription filter.",
        )
        what.add_argument(
            "--parent-stream",
            default=scenario.parent_stream,
            help="Create one object here first ('none': no parent).",
        )
        what.add_argument(
            "--parent-payload", type=json_object, default=scenario.parent_payload
        )
        parser.add_argument("--json", metavar="PATH", help="Also write the results.")
        parser.add_argument(
            "--allow-remote",
            action="store_true",
            help="Allow a server that is not on this machine (loopback only "
            "by default: this is a load generator).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="Hide the progress bars."
        )

    def handle(self, *args, **options):
        console = Console(file=self.stdout, highlight=False)
        if not console.is_terminal:
            console.width = 120  # A file or a pipe: do not wrap the table.
        scenario = load.Scenario(
            stream=options["stream"],
            payload=options["payload"],
            subscribe=options["subscribe"],
            parent_stream=none_or(options["parent_stream"]),
            parent_payload=options["parent_payload"],
        )
        target = self.target(options, scenario)
        run_options = self.run_options(options)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=options["no_progress"] or not console.is_terminal,
        )
        try:
            with progress:
                report = asyncio.run(load.run(target, run_options, scenario, progress))
        except load.BenchError as exc:
            raise CommandError(str(exc)) from None
        ratios = load.ratios(report, run_options)
        self.print_report(console, report, ratios, target)
        if options["json"]:
            self.write_json(options["json"], report, ratios, target, run_options)

    # Options -------------------------------------------------------------------

    def target(self, options, scenario):
        url = options["url"]
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise CommandError(f"--url must be ws://HOST[:PORT]/PATH, not {url!r}.")
        if not options["allow_remote"] and not is_loopback(parts.hostname):
            raise CommandError(
                f"{parts.hostname} is not this machine: pass --allow-remote to "
                "load a remote server (one you run, with its owner's consent)."
            )
        http_scheme = "https" if parts.scheme == "wss" else "http"
        reference_url = options["reference_url"]
        if reference_url is None:
            reference_url = urlunsplit(
                (parts.scheme, parts.netloc, "/bench/minimal/", "", "")
            )
        http_url = options["http_url"] or urlunsplit(
            (http_scheme, parts.netloc, http_path(scenario.stream), "", "")
        )
        session_key = options["session"] or self.bench_session()
        return load.Target(
            url=url,
            http_url=http_url,
            reference_url=none_or(reference_url),
            cookie=f"{settings.SESSION_COOKIE_NAME}={session_key}",
            csrf_token=secrets.token_hex(16),
            server_pid=options["server_pid"],
        )

    def run_options(self, options):
        for name, limit in LIMITS.items():
            if not 1 <= options[name] <= limit:
                raise CommandError(f"--{name} must be between 1 and {limit}.")
        if not 1 <= options["rounds"] <= 20:
            raise CommandError("--rounds must be between 1 and 20.")
        workloads = tuple(w.strip().lower() for w in options["workloads"].split(","))
        unknown = set(workloads) - {"w1", "http", "w2", "w3", "w4"}
        if unknown:
            raise CommandError(
                f"Unknown workloads: {', '.join(sorted(unknown))}. "
                "Use some of: w1, http, w2, w3, w4."
            )
        return load.Options(
            requests=options["requests"],
            sockets=options["sockets"],
            subscribers=options["subscribers"],
            events=options["events"],
            idle=options["idle"],
            rounds=options["rounds"],
            timeout=options["timeout"],
            workloads=workloads,
        )

    def bench_session(self):
        """Create (or reuse) the benchmark user; return a fresh session key."""
        user, created = get_user_model()._default_manager.get_or_create(
            username=BENCH_USERNAME
        )
        if created:
            user.set_unusable_password()
            user.save()
        return create_session(user)

    # Output --------------------------------------------------------------------

    def print_report(self, console, report, ratios, target):
        table = Table(title=f"realtime_bench: {target.url}")
        table.add_column("workload")
        table.add_column("endpoint")
        table.add_column("count", justify="right")
        table.add_column("rate /s", justify="right")
        table.add_column("p50 ms", justify="right")
        table.add_column("p99 ms", justify="right")
        table.add_column("missing", justify="right")
        table.add_column("RSS/socket KiB", justify="right")
        for row in report.rows:
            table.add_row(
                row.workload,
                row.endpoint,
                str(row.count),
                number(row.rate, 0),
                number(row.p50_ms, 1),
                number(row.p99_ms, 1),
                number(row.missing, 0),
                number(row.rss_per_socket_kib, 1),
            )
        console.print(table)
        if ratios:
            table = Table(title="Ratios (same run, same server and channel layer)")
            table.add_column("ratio")
            table.add_column("measured", justify="right")
            table.add_column("target", justify="right")
            table.add_column("met")
            for name, value, goal, met in ratios:
                table.add_row(name, f"{value:.2f}x", goal, "yes" if met else "NO")
            console.print(table)
        for what, reason in report.skipped.items():
            console.print(f"Skipped {what}: {reason}")

    def write_json(self, path, report, ratios, target, run_options):
        data = {
            "url": target.url,
            "reference_url": target.reference_url,
            "http_url": target.http_url,
            "options": asdict(run_options),
            "rows": [asdict(row) for row in report.rows],
            "ratios": [
                {"name": name, "value": value, "target": goal, "met": met}
                for name, value, goal, met in ratios
            ],
            "skipped": report.skipped,
        }
        with open(path, "w") as file:
            json.dump(data, file, indent=2, ensure_ascii=False)
            file.write("\n")


def none_or(value):
    return None if value in (None, "", "none") else value


def number(value, digits):
    return "-" if value is None else f"{value:,.{digits}f}"


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_path(stream):
    """The HTTP twin of `stream`: its router URL, or /api/<stream>/."""
    from realtime_api.registry import get_registry

    adapter = get_registry().get(stream)
    return adapter.path() if adapter is not None else f"/api/{stream}/"
