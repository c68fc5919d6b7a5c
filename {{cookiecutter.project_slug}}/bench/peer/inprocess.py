"""`python -m bench.peer.inprocess`: W1's CPU per create of each column, in process.

`python -m bench --peers` measures the server's CPU per create while the
load generator shares the machine's cores, which moves it by 20-30% between
runs. This drives `bench.asgi:application` with Channels' test communicator
in this one process instead (no server, no network), like
`python -m bench.inprocess` does for the sample: the CPU time this process
spends per create, for each column of the comparison that is served::

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.peer.inprocess --creates 1000

Rounds alternate between columns; the median round counts. Everything it
creates stays in the bench database, as `python -m bench --peers`'s does.
"""

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
# Creates back to back, as `python -m bench` asks its server to serve them.
os.environ.setdefault("REALTIME_API_FRAME_RATE", "0")

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from bench import PEER_BARE_PATH, PEER_DCRF_PATH
from bench.asgi import application, bench_sockets  # Sets Django up.
from bench.peers import BARE, DCRF, EQUAL, SAMPLE
from bench.peers_client import Column, Dcrf, Protocol, comment
from bench.scenario import DEFAULT
from realtime_api.testing import AuthWebsocketCommunicator

from .names import STREAM

USERNAME = "realtime-bench-inprocess"
_request_ids = itertools.count(1)


def columns():
    """The columns this process serves (DCRF: with the bench-peers extra)."""
    served = {}
    if DEFAULT is not None:
        served[SAMPLE] = Column(SAMPLE, "/ws/", DEFAULT.stream, Protocol())
    served[EQUAL] = Column(EQUAL, "/ws/", STREAM, Protocol())
    if PEER_DCRF_PATH in bench_sockets:
        served[DCRF] = Column(DCRF, PEER_DCRF_PATH, "", Dcrf())
    served[BARE] = Column(BARE, PEER_BARE_PATH, STREAM, Protocol())
    return served


async def ask(ws, column, action, payload):
    """Send one request; return its answer's data (exit unless 2xx)."""
    request_id = next(_request_ids)
    frame = column.dialect.request(column.stream, action, payload, request_id)
    await ws.send_to(text_data=json.dumps(frame))
    while True:
        answer = column.dialect.answer(json.loads(await ws.receive_from(timeout=30)))
        if answer is not None and answer[0] == request_id:
            if not 200 <= answer[1] < 300:
                sys.exit(f"{column.name}: {action} answered {answer[1]}: {answer[2]}")
            return answer[2]


async def open_socket(path, user):
    ws = AuthWebsocketCommunicator(application, path, user=user)
    await ws
    connected, code = await ws.connect()
    if not connected:
        sys.exit(f"{path} refused the socket (close code {code})")
    return ws


async def topic_of(column, user):
    """The topic the creates go to: a new sample topic, or any number."""
    if column.name != SAMPLE:
        return 1
    ws = await open_socket(column.url, user)
    try:
        parent = Column(SAMPLE, column.url, DEFAULT.parent_stream, Protocol())
        return (await ask(ws, parent, "create", DEFAULT.parent_payload))["id"]
    finally:
        await ws.disconnect()


async def measure(column, user, creates):
    """CPU microseconds per create of `creates` creates over one socket."""
    topic = await topic_of(column, user)
    ws = await open_socket(column.url, user)
    try:
        await ask(ws, column, "create", comment(topic, -1))  # Warm up.
        cpu = time.process_time()
        for i in range(creates):
            await ask(ws, column, "create", comment(topic, i))
        cpu = time.process_time() - cpu
    finally:
        await ws.disconnect()
    return cpu / creates * 1e6


async def run(options):
    user, _ = await database_sync_to_async(get_user_model().objects.get_or_create)(
        username=USERNAME
    )
    served = columns()
    results = {name: [] for name in served}
    for _ in range(options.rounds):  # Alternate, so that a busy spell hits all.
        for name, column in served.items():
            results[name].append(await measure(column, user, options.creates))
    print(f"W1 in process: {options.creates} creates over 1 socket, CPU per create")
    for name, measured in results.items():
        print(f"  {name:7s} {statistics.median(measured):7,.0f} us")
    missing = {
        SAMPLE: "needs the sample app (include_sample_app=y)",
        DCRF: 'needs the bench-peers extra (pip install -e ".[bench-peers]")',
    }
    for name, reason in missing.items():
        if name not in served:
            print(f"  {name:7s} skipped: {reason}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.peer.inprocess", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    if not 1 <= options.creates <= 100_000 or not 1 <= options.rounds <= 20:
        parser.error("--creates: 1 to 100000; --rounds: 1 to 20.")
    asyncio.run(run(options))


if __name__ == "__main__":
    main()
