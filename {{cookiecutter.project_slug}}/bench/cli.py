"""`python -m bench`: how many sockets and events can the server take?

Drives a running server over real WebSockets (load.py) and reports how the
app compares with the reference endpoint (report.py)::

    daphne bench.asgi:application &
    python -m bench --server-pid $! --json bench.json

`python -m bench --help` lists the options; bench/BENCHMARKS.md says how to
read the figures.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import django
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import REFERENCE_PATH, load, neighbours, peers, report
from . import soak as soaking
from .client import BenchError
from .scenario import DEFAULT, Scenario

# Upper bounds of the sizes, so a typo cannot exhaust the machine.
LIMITS = {"requests": 100_000, "sockets": 500, "subscribers": 5000, "events": 10_000}
LIMITS["idle"] = 20_000
LIMITS["signals"] = 1000
LIMITS.update(flood_creates=10_000, slow_events=100_000, readers=1000)
FANOUT_WORKLOADS = {"w2", "w2u", "w4", "slow"}  # They need --subscribe.
MODEL_VARIABLE = "REALTIME_BENCH_MODEL"  # A setting or an environment variable


class OptionError(BenchError):
    """An option is missing or wrong: the message names it."""


def main(argv=None, stdout=None):
    """Run the load; return the exit status (1: the run failed).

    Options that cannot work exit with status 2 and a message naming them,
    before anything is written or loaded.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_django()
    console = Console(file=stdout or sys.stdout, highlight=False)
    if not console.is_terminal:
        console.width = 120  # A file or a pipe: do not wrap the table.
    if args.peers:
        return run_peers(console, parser, args)
    if args.soak is not None or "neighbours" in args.workloads:
        args.reference_url = "none"  # The soak loads the app alone.
    try:
        options = options_from(args)
        scenario = scenario_from(args, options)
        target = target_from(args, scenario, options)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=args.no_progress or not console.is_terminal,
        )
        if "neighbours" in options.workloads:
            return run_neighbours(console, args, options, target)
        with progress:
            if args.soak is not None:
                result = asyncio.run(run_soak(target, scenario, args.soak, progress))
            else:
                result = asyncio.run(load.run(target, options, scenario, progress))
    except OptionError as exc:
        parser.error(str(exc))
    except BenchError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 1
    if args.soak is not None:
        return report_soak(console, result, args.json)
    ratios = report.ratios(result, options)
    report.print_report(console, result, ratios, target)
    if args.json:
        report.write_json(args.json, result, ratios, target, options)
    return 0


def setup_django():
    """Load the project's settings as manage.py does: the server's database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    if not apps.ready:
        django.setup()


# The command line ------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load a running server over real WebSockets: create round "
        "trips, fan-out to subscribers, live queries and idle sockets, compared "
        "with a minimal Channels consumer and with HTTP.",
        epilog="How to run it and read the figures: bench/BENCHMARKS.md.",
    )
    parser.add_argument(
        "--url",
        default="ws://127.0.0.1:8000/ws/",
        help="The API socket of the running server (default: %(default)s).",
    )
    parser.add_argument(
        "--reference-url",
        help=f"The reference endpoint (default: {REFERENCE_PATH} on --url's "
        "server, which `daphne bench.asgi:application` serves). 'none' skips it.",
    )
    parser.add_argument(
        "--http-url",
        help="Where the same create is POSTed over HTTP (default: the "
        "stream's router URL on --url's server).",
    )
    parser.add_argument(
        "--session",
        help="The session cookie to authenticate with. Default: the load "
        "creates the user 'realtime-bench' and a session for it in this "
        "project's database, which the server must share (and, for w2u, one "
        "user and session per subscriber; w2u is skipped with --session).",
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        help="The server's process id, to measure its memory (W3).",
    )
    sizes = parser.add_argument_group("sizes")
    sizes.add_argument("--requests", type=int, default=500, help="W1/HTTP creates")
    sizes.add_argument("--sockets", type=int, default=20, help="W1 concurrent sockets")
    sizes.add_argument(
        "--subscribers",
        type=int,
        default=200,
        help="W2 and W2u subscribed sockets (W2u: as many users), W4 watchers, "
        "W5 users joining one object",
    )
    sizes.add_argument("--events", type=int, default=50, help="W2, W2u and W4 creates")
    sizes.add_argument("--idle", type=int, default=1000, help="W3 idle sockets")
    sizes.add_argument(
        "--signals",
        type=int,
        default=10,
        help="W5 signals, each to every other socket present (default: "
        "%(default)s, the server's burst: past it, the load waits out each 429)",
    )
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
        default=",".join(load.DEFAULT_WORKLOADS),
        help="Which to run, comma-separated (default: %(default)s; also "
        "flood and slow, the overload workloads, which take minutes, and "
        "neighbours, N1, which runs alone).",
    )
    sizes.add_argument(
        "--pace", type=float, default=20, help="F1: creates a second (20)"
    )
    sizes.add_argument(
        "--fanout-rate",
        type=float,
        default=0,
        help="W2, W2u, W4: the writer's creates a second, paced; 0 (the "
        "default): each as soon as the last is answered, the server's saturation",
    )
    sizes.add_argument(
        "--flood-creates", type=int, default=200, help="F1: creates per phase"
    )
    sizes.add_argument(
        "--slow-events", type=int, default=15_000, help="S1: creates of ~2 KB"
    )
    sizes.add_argument("--readers", type=int, default=20, help="S1: reading sockets")
    sizes.add_argument(
        "--stall",
        type=float,
        default=20,
        help="S1: seconds the stalled socket reads nothing (20)",
    )
    what = parser.add_argument_group("what is created", scenario_help())
    what.add_argument("--stream", help="The stream the load creates in.")
    what.add_argument(
        "--payload",
        type=json_object,
        help='The create payload, a JSON object; "{parent}" and "{i}" are '
        "replaced by the parent's id and the create's number.",
    )
    what.add_argument(
        "--subscribe",
        type=json_object,
        help="The filter W2, W2u and W4 subscribe (or watch) with.",
    )
    what.add_argument(
        "--parent-stream",
        help="Create one object here first ('none': no parent).",
    )
    what.add_argument("--parent-payload", type=json_object)
    what.add_argument(
        "--model",
        metavar="APP_LABEL.MODEL",
        help="The model the reference endpoint writes for the same creates "
        f"(default: the {MODEL_VARIABLE} setting or environment variable).",
    )
    nearby = parser.add_argument_group("N1, noisy neighbours (--workloads neighbours)")
    nearby.add_argument(
        "--neighbour-seconds",
        type=float,
        default=5,
        help="Seconds the victim is measured alone and in each attack (5)",
    )
    nearby.add_argument(
        "--attacks",
        default=",".join(neighbours.ATTACKS),
        help="Which attacks, comma-separated (default: %(default)s)",
    )
    nearby.add_argument(
        "--toggles", type=int, default=1000, help="replay: privacy toggles (1000)"
    )
    nearby.add_argument(
        "--watch-rows",
        type=int,
        default=50_000,
        help="watch-memory: comments in the watched topic (50,000)",
    )
    nearby.add_argument(
        "--http-origin",
        metavar="ORIGIN",
        help="replay: the Origin of its HTTP PATCHes (default: --url's server; "
        "behind a proxy that says https, https://HOST:PORT)",
    )
    nearby.add_argument(
        "--server-log",
        metavar="PATH",
        help="The server's log file: ERROR lines are counted per phase.",
    )
    parser.add_argument(
        "--redis-url",
        help="The server's Redis, for W5 to count the commands a join costs "
        "(INFO commandstats; default: REDIS_URL of these settings, if set). Use "
        "a Redis server of the bench's own: it counts everyone's commands.",
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="Instead of the workloads: SECONDS of steady traffic (idle and "
        "active sockets, writes, subscription churn, reconnects with since); "
        "reports RSS over time, missing and duplicate events, errors.",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="Instead of the workloads: the equal-work comparison (bench/peers.py), "
        "W1, W2 and W3 on the sample's stream, our stream over a plain "
        "ModelViewSet, DCRF 1.3 over the same model and a bare consumer, side by "
        "side. Serve bench.asgi:application with DJANGO_SETTINGS_MODULE="
        "bench.settings (BENCHMARKS.md, 'Equal work').",
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
    return parser


def scenario_help():
    if DEFAULT is None:
        return (
            "No default: give --stream and --payload, --subscribe for "
            "w2, w2u and w4, and --model for the reference."
        )
    return (
        f"Default: {DEFAULT.stream} in a new object of {DEFAULT.parent_stream}, "
        f"which the reference writes as {DEFAULT.model}. Another --stream "
        "needs its own --payload, --subscribe and --model."
    )


def json_object(text):
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {text!r}")
    return value


# From options to what the load needs ----------------------------------------


def options_from(args):
    values = vars(args)
    for name, limit in LIMITS.items():
        if not 1 <= values[name] <= limit:
            raise OptionError(f"--{name} must be between 1 and {limit}.")
    if not 1 <= args.rounds <= 20:
        raise OptionError("--rounds must be between 1 and 20.")
    if not 0 < args.pace <= 1000:
        raise OptionError("--pace must be above 0 and at most 1000.")
    if not 0 <= args.fanout_rate <= 10_000:
        raise OptionError("--fanout-rate must be between 0 and 10000.")
    workloads = tuple(w.strip().lower() for w in args.workloads.split(","))
    unknown = set(workloads) - set(load.WORKLOADS)
    if unknown:
        raise OptionError(
            f"--workloads: unknown {', '.join(sorted(unknown))}. "
            f"Use some of: {', '.join(load.WORKLOADS)}."
        )
    return load.Options(
        requests=args.requests,
        sockets=args.sockets,
        subscribers=args.subscribers,
        events=args.events,
        idle=args.idle,
        signals=args.signals,
        rounds=args.rounds,
        timeout=args.timeout,
        workloads=workloads,
        pace=args.pace,
        fanout_rate=args.fanout_rate,
        flood_creates=args.flood_creates,
        slow_events=args.slow_events,
        readers=args.readers,
        stall=args.stall,
    )


def scenario_from(args, options):
    """What to create: the options given, the gaps filled from the default
    scenario when --stream is its stream or not given."""
    default = DEFAULT if DEFAULT and args.stream in (None, DEFAULT.stream) else None

    def given_or_default(name):
        value = getattr(args, name)
        return getattr(default, name) if value is None and default else value

    stream = given_or_default("stream")
    if stream is None:
        raise OptionError(
            "say what the load creates: --stream NAME --payload JSON, and "
            "--subscribe JSON for w2, w2u and w4 (there is no default stream)."
        )
    payload = given_or_default("payload")
    if payload is None:
        raise OptionError(
            f"--payload: the JSON object a create on {stream!r} sends "
            '("{i}" is replaced by the create\'s number).'
        )
    subscribe = given_or_default("subscribe")
    wanted = FANOUT_WORKLOADS & set(options.workloads)
    if args.soak is not None:
        wanted.add("--soak")
    if subscribe is None and wanted:
        raise OptionError(
            f"--subscribe: the filter (a JSON object) {', '.join(sorted(wanted))} "
            f"subscribe to {stream!r} with; or --workloads without them."
        )
    model = None
    if args.reference_url is None or none_or(args.reference_url) is not None:
        model = reference_model(args.model or configured_model(default))
    return Scenario(
        stream=stream,
        payload=payload,
        subscribe=subscribe or {},
        parent_stream=none_or(given_or_default("parent_stream")),
        parent_payload=given_or_default("parent_payload") or {},
        model=model,
    )


def configured_model(default):
    """The REALTIME_BENCH_MODEL setting or variable, else the default's model."""
    return (
        getattr(settings, MODEL_VARIABLE, None)
        or os.environ.get(MODEL_VARIABLE)
        or getattr(default, "model", None)
    )


def reference_model(label):
    """Check that `label` names an installed model; return it."""
    if not label:
        raise OptionError(
            "--model APP_LABEL.MODEL: which model the reference endpoint "
            f"writes for the same creates (or set {MODEL_VARIABLE}); "
            "--reference-url none measures the app alone."
        )
    try:
        apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise OptionError(f"--model {label}: {exc}") from None
    return label


def target_from(args, scenario, options):
    """Where the server is and who the load is (writes the load's sessions)."""
    url = checked_url(args)
    parts = urlsplit(url)
    if args.reference_url is None:
        reference_url = urlunsplit((parts.scheme, parts.netloc, REFERENCE_PATH, "", ""))
    else:
        reference_url = none_or(args.reference_url)
    if reference_url is not None:
        reference_url = with_query(reference_url, model=scenario.model)
    http_scheme = "https" if parts.scheme == "wss" else "http"
    http_url = args.http_url or urlunsplit(
        (http_scheme, parts.netloc, http_path(scenario.stream), "", "")
    )
    session_key, user_keys, flooder_key = args.session, None, None
    try:
        from . import sessions  # Imports Django's auth: only after setup.

        if session_key is None:
            session_key = sessions.session_key()
            if {"w2u", "w5"} & set(options.workloads):
                user_keys = sessions.session_keys(options.subscribers)
            if "flood" in options.workloads:
                flooder_key = sessions.flooder_session_key()
    except DatabaseError as exc:
        raise BenchError(
            f"Cannot write the load's sessions: {exc}. Run `python manage.py "
            "migrate` with the server's settings, or pass --session."
        ) from None
    return load.Target(
        url=url,
        http_url=http_url,
        reference_url=reference_url,
        cookie=cookie(session_key),
        csrf_token=secrets.token_hex(16),
        server_pid=args.server_pid,
        user_cookies=None if user_keys is None else [cookie(k) for k in user_keys],
        redis_url=args.redis_url or getattr(settings, "REALTIME_API_REDIS_URL", None),
        flooder_cookie=None if flooder_key is None else cookie(flooder_key),
    )


def checked_url(args):
    """--url, once it is a ws:// URL on this machine (or --allow-remote)."""
    url = args.url
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise OptionError(f"--url must be ws://HOST[:PORT]/PATH, not {url!r}.")
    if not args.allow_remote and not is_loopback(parts.hostname):
        raise OptionError(
            f"{parts.hostname} is not this machine: pass --allow-remote to "
            "load a remote server (one you run, with its owner's consent)."
        )
    return url


def cookie(session_key):
    return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def with_query(url, **params):
    """`url` with `params` added to its query string (those it has win)."""
    parts = urlsplit(url)
    query = {**params, **dict(parse_qsl(parts.query))}
    return urlunsplit(parts._replace(query=urlencode(query)))


def none_or(value):
    """None for 'none': the option turned off."""
    return None if value in (None, "", "none") else value


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_path(stream):
    """The HTTP twin of `stream`: its router URL, or /api/<stream>/."""
    from realtime_api.streams.registry import get_registry

    adapter = get_registry().get(stream)
    return adapter.path() if adapter is not None else f"/api/{stream}/"


# The equal-work comparison ------------------------------------------------------


def run_peers(console, parser, args):
    """`--peers`: ours / DCRF / bare over one model (bench/peers.py)."""
    try:
        options = options_from(args)
        url = checked_url(args)
        from . import sessions  # Imports Django's auth: only after setup.

        try:
            session_key = args.session or sessions.session_key()
        except DatabaseError as exc:
            raise BenchError(
                f"Cannot write the load's session: {exc}. Run `python manage.py "
                "migrate` with the server's settings (DJANGO_SETTINGS_MODULE="
                "bench.settings), or pass --session."
            ) from None
        target = peers.peer_target(url, cookie(session_key), args.server_pid)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=args.no_progress or not console.is_terminal,
        )
        with progress:
            comparison = asyncio.run(peers.run(target, options, progress))
    except OptionError as exc:
        parser.error(str(exc))
    except BenchError as exc:
        print(f"python -m bench --peers: {exc}", file=sys.stderr)
        return 1
    peers.print_comparison(console, comparison, options, target)
    if args.json:
        peers.write_json(args.json, comparison, options, target)
    return 0 if comparison.measurements else 1


# N1, noisy neighbours -------------------------------------------------------------


def run_neighbours(console, args, options, target):
    if options.workloads != ("neighbours",):
        raise OptionError("--workloads neighbours runs alone.")
    attacks = tuple(a.strip() for a in args.attacks.split(",") if a.strip())
    unknown = set(attacks) - set(neighbours.ATTACKS)
    if unknown:
        raise OptionError(
            f"--attacks: unknown {', '.join(sorted(unknown))}. "
            f"Use some of: {', '.join(neighbours.ATTACKS)}."
        )
    if not 1 <= args.neighbour_seconds <= 600:
        raise OptionError("--neighbour-seconds must be between 1 and 600.")
    if not 1 <= args.toggles <= 10_000:
        raise OptionError("--toggles must be between 1 and 10000.")
    if args.http_origin and not args.http_origin.startswith(("http://", "https://")):
        raise OptionError("--http-origin must be an origin: http(s)://HOST:PORT.")
    if not 1 <= args.watch_rows <= 2_000_000:
        raise OptionError("--watch-rows must be between 1 and 2000000.")
    nopts = neighbours.Options(
        seconds=args.neighbour_seconds,
        toggles=args.toggles,
        rows=args.watch_rows,
        attacks=attacks,
        server_log=args.server_log,
        http_origin=args.http_origin,
    )
    world = neighbours.prepare(nopts, target.cookie)
    phases = asyncio.run(neighbours.run(target, world, nopts))
    neighbours.print_table(console, phases, nopts)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(neighbours.as_dict(phases), file, indent=2)
            file.write("\n")
    return 0


# The soak -----------------------------------------------------------------------


async def run_soak(target, scenario, seconds, progress):
    if not 5 <= seconds <= 7 * 24 * 3600:
        raise OptionError("--soak must be between 5 seconds and a week.")
    parent = await load.create_parent(target, scenario)
    options = soaking.SoakOptions()
    return await soaking.soak(
        target.url, target, scenario, parent, seconds, options, progress
    )


def report_soak(console, result, json_path):
    """Print the soak's figures; return 1 if an event was lost or doubled."""
    table = Table(title=f"python -m bench --soak {result.seconds:g}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    growth = result.rss_growth
    for name, value in (
        ("creates", f"{result.creates:,}"),
        ("create events received (all subscribers)", f"{result.events:,}"),
        ("missing", str(result.missing)),
        ("duplicates", str(result.duplicates)),
        ("resumes with since", str(result.resumes)),
        ("subscribe/watch churn rounds", str(result.churns)),
        ("errors", str(len(result.errors))),
        ("RSS growth after warm-up", "-" if growth is None else f"{growth:+.1%}"),
    ):
        table.add_row(name, value)
    console.print(table)
    if result.rss:
        step = max(1, len(result.rss) // 10)
        samples = ", ".join(
            f"{t:g} s: {rss / 2**20:.1f}" for t, rss in result.rss[::step]
        )
        console.print(f"Server RSS (MB) over time: {samples}", markup=False)
    for error in result.errors:
        console.print(f"Error: {error}", markup=False)
    if json_path:
        with open(json_path, "w") as file:
            json.dump(result.as_dict(), file, indent=2)
            file.write("\n")
    return 1 if result.missing or result.duplicates or result.errors else 0
