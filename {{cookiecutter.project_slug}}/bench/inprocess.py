"""`python -m bench.inprocess`: W1's creates through the ASGI app, in this process.

No server and no network: Channels' test communicator drives
`bench.asgi:application` (the app and the reference endpoint) in this
process, so the figure is the CPU time this process spends per create, with
none of the noise of a load generator sharing the machine's cores. It is for
comparing two versions of the code (run it before and after a change, a few
times each); `python -m bench` is the figure a deployment sees, daphne's or
uvicorn's work included.

    python -m bench.inprocess --creates 1000 --sockets 1 --rounds 3

It writes to the project's database, like `python -m bench`; the default
scenario (the sample app's comments) only.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# Creates back to back, as `python -m bench` asks its server to serve them.
os.environ.setdefault("REALTIME_API_FRAME_RATE", "0")

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from bench import REFERENCE_PATH
from bench.asgi import application  # Sets Django up.
from bench.scenario import DEFAULT, fill
from realtime_api.testing import AuthWebsocketCommunicator

USERNAME = "realtime-bench-inprocess"


async def create(ws, stream, payload):
    """Send one create frame; return the answer's data (fail unless 201)."""
    await ws.send_to(
        text_data=json.dumps({"stream": f"{stream}/create/", "payload": payload})
    )
    answer = json.loads(await ws.receive_from(timeout=30))
    if answer.get("status") != 201:
        sys.exit(f"{stream}/create/ answered {answer}")
    return answer["data"]


async def open_sockets(path, user, count):
    path, _, query = path.partition("?")
    sockets = []
    for _ in range(count):
        ws = AuthWebsocketCommunicator(application, path, user=user)
        ws.scope["query_string"] = query.encode()
        await ws
        connected, code = await ws.connect()
        if not connected:
            sys.exit(f"{path} refused the socket (close code {code})")
        sockets.append(ws)
    return sockets


async def measure(path, user, parent, creates, sockets):
    """(CPU us per create, creates/s) of `creates` over `sockets` sockets."""
    opened = await open_sockets(path, user, sockets)
    try:
        for ws in opened:  # Warm up each socket.
            await create(ws, DEFAULT.stream, fill(DEFAULT.payload, parent, -1))
        numbers = iter(range(creates))

        async def worker(ws):
            for i in numbers:
                await create(ws, DEFAULT.stream, fill(DEFAULT.payload, parent, i))

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(ws) for ws in opened))
        cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    finally:
        for ws in opened:
            await ws.disconnect()
    return cpu / creates * 1e6, creates / elapsed


async def run(options):
    user, _ = await database_sync_to_async(get_user_model().objects.get_or_create)(
        username=USERNAME
    )
    [writer] = await open_sockets("/ws/", user, 1)
    parent = (await create(writer, DEFAULT.parent_stream, DEFAULT.parent_payload))["id"]
    await writer.disconnect()
    endpoints = {
        "reference": f"{REFERENCE_PATH}?model={DEFAULT.model}",
        "app": "/ws/",
    }
    results = {name: [] for name in endpoints}
    for _ in range(options.rounds):  # Alternate, so that a busy spell hits both.
        for name, path in endpoints.items():
            results[name].append(
                await measure(path, user, parent, options.creates, options.sockets)
            )
    print(f"W1 in process: {options.creates} creates over {options.sockets} socket(s)")
    for name, measured in results.items():
        cpu = statistics.median(result[0] for result in measured)
        rate = statistics.median(result[1] for result in measured)
        print(f"  {name:9s} CPU per create {cpu:6,.0f} us   {rate:5,.0f} creates/s")
    reference, app = (statistics.median(r[0] for r in results[n]) for n in endpoints)
    print(f"  CPU per create, app / reference: {app / reference:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.inprocess", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--sockets", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    if DEFAULT is None:
        sys.exit("python -m bench.inprocess measures the sample app's comments only.")
    asyncio.run(run(options))


if __name__ == "__main__":
    main()
