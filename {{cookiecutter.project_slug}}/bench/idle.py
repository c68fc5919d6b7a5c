"""`python -m bench.idle`: W3, each endpoint in a fresh server of its own.

`python -m bench --peers` measures the idle sockets of every column in one
server, one after the other: the second fills memory the first left free
and finds the process's tables already grown, worth 3 to 4 KiB a socket
(BENCHMARKS.md, "An idle socket, item by item"). Here each measurement
starts its own daphne (`bench.asgi:application` with bench/settings.py),
warms it up with 50 sockets, then holds --idle sockets and reads the growth
of its RSS; the order of the endpoints alternates between rounds::

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py migrate
    python -m bench.idle --idle 1000 --rounds 4

Endpoints: ours (`/ws/`), DCRF (with the `bench-peers` extra) and the bare
consumer. The median round of each counts.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from . import PEER_BARE_PATH, PEER_DCRF_PATH
from .client import BenchError, close_all, connect_many
from .load import Target
from .workloads import hold_idle

ENDPOINTS = {"ours": "/ws/", "DCRF": PEER_DCRF_PATH, "bare": PEER_BARE_PATH}
WARM_UP = 50  # Sockets opened and closed first: every code path imported.


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One daphne serving bench.asgi:application on a free loopback port."""

    def __init__(self, env):
        self.port = free_port()
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
        self.process = subprocess.Popen(
            [*command, "-p", str(self.port), "bench.asgi:application"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_until_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"daphne exited with {self.process.returncode}.")
            try:
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("daphne was not ready within 60 s.")
            time.sleep(0.2)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def measure(path, count, env, cookie):
    """RSS growth per idle socket (KiB) of a fresh server holding `count`."""
    server = Server(env)
    try:
        server.wait_until_ready()
        target = Target(
            url=f"ws://127.0.0.1:{server.port}{path}",
            http_url="",
            cookie=cookie,
            server_pid=server.process.pid,
        )
        await close_all(await connect_many(target.url, target, WARM_UP, lambda n: 0))
        sockets, kib = await hold_idle(target.url, target, count, lambda n: 0)
        await close_all(sockets)
        return kib
    finally:
        server.stop()


def order_of(endpoints, round_number):
    """The endpoints in turn, each round starting one later than the last."""
    shift = round_number % len(endpoints)
    return endpoints[shift:] + endpoints[:shift]


async def run(endpoints, count, rounds, env, cookie):
    results = {name: [] for name in endpoints}
    for round_number in range(rounds):
        for name in order_of(endpoints, round_number):
            kib = await measure(ENDPOINTS[name], count, env, cookie)
            results[name].append(kib)
            print(f"round {round_number + 1}: {name} {kib:.1f} KiB", flush=True)
    return results


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m bench.idle",
        description="W3: RSS per idle socket, a fresh daphne per endpoint.",
    )
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets held")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--endpoints",
        default="ours,DCRF,bare",
        help=f"some of {', '.join(ENDPOINTS)}, comma-separated",
    )
    parser.add_argument("--json", metavar="PATH", help="Also write the figures.")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    endpoints = [name.strip() for name in args.endpoints.split(",") if name.strip()]
    unknown = set(endpoints) - set(ENDPOINTS)
    if unknown or not endpoints:
        build_parser().error(f"--endpoints: use some of {', '.join(ENDPOINTS)}.")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings")
    import django

    django.setup()
    from django.conf import settings

    from . import sessions

    cookie = f"{settings.SESSION_COOKIE_NAME}={sessions.session_key()}"
    results = asyncio.run(run(endpoints, args.idle, args.rounds, env, cookie))
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\nKiB per idle socket, median of {args.rounds} fresh servers each:")
    for name, median in medians.items():
        ratios = ""
        if "bare" in medians and name != "bare":
            ratios = f" ({median / medians['bare']:.2f}x bare)"
        print(f"  {name}: {median:.1f}{ratios}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"idle": args.idle, "rounds": results}, file, indent=2)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
