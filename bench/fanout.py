"""Fan-out to many subscribers, per channel layer, through our broadcast path.

An interim measurement until the generated project's `realtime_bench`
command exists. Run from a baked project with its dependencies installed
(Redis on 127.0.0.1:6379 for the Redis layers):

    python ../../bench/fanout.py --subscribers 300 --events 50

For each layer (in-memory, channels-redis pubsub, channels-redis core) it
starts daphne, opens S sockets subscribed to one topic's comments, creates
E comments over a writer socket, and reports delivered events per second,
latency percentiles from each create to each delivery, and missing events.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.dirname(__file__))
from ws_vs_http import free_port, make_session, manage  # noqa: E402

LAYERS = {
    "memory": {},
    "pubsub": {"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_CHANNEL_LAYER": "pubsub"},
    "core": {"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_CHANNEL_LAYER": "core"},
}
HEADERS = {"Origin": "http://localhost"}


async def request(ws, frame):
    await ws.send(json.dumps(frame))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("type") == "response":
            return reply


async def run(port, cookie, subscribers, events):
    url = f"ws://127.0.0.1:{port}/ws/"
    writer = await websockets.connect(
        url, additional_headers={**HEADERS, "Cookie": cookie}
    )
    topic = await request(writer, {"stream": "topics/create/", "payload": {"title": "t"}})
    topic_id = topic["data"]["id"]
    sockets = []
    for _ in range(subscribers):
        ws = await websockets.connect(url, additional_headers=HEADERS, max_queue=None)
        reply = await request(
            ws, {"stream": "comments/subscribe/", "payload": {"topic": topic_id}}
        )
        assert reply["status"] == 200, reply
        sockets.append(ws)

    sent_at, latencies = {}, []
    received = 0

    async def listen(ws):
        nonlocal received
        for _ in range(events):
            frame = json.loads(await ws.recv())
            latencies.append(time.perf_counter() - sent_at[frame["data"]["text"]])
            received += 1

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    start = time.perf_counter()
    for i in range(events):
        text = f"comment {i}"
        sent_at[text] = time.perf_counter()
        reply = await request(
            writer, {"stream": "comments/create/", "payload": {"topic": topic_id, "text": text}}
        )
        assert reply["status"] == 201, reply
    done, pending = await asyncio.wait(listeners, timeout=60)
    elapsed = time.perf_counter() - start
    for task in pending:
        task.cancel()
    for ws in [writer, *sockets]:
        await ws.close()
    latencies.sort()
    return {
        "events/s": received / elapsed,
        "p50 ms": 1000 * statistics.median(latencies),
        "p99 ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "missing": subscribers * events - received,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--layers", default="memory,pubsub,core")
    args = parser.parse_args()
    for name in args.layers.split(","):
        workdir = tempfile.mkdtemp()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
            **LAYERS[name],
        }
        manage(env, "migrate", "-v0")
        cookie = f"sessionid={make_session(env)}"
        port = free_port()
        server = subprocess.Popen(
            ["daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2.5)
            result = asyncio.run(run(port, cookie, args.subscribers, args.events))
        finally:
            server.terminate()
            server.wait(timeout=10)
        figures = "  ".join(f"{k} {v:8.1f}" for k, v in result.items())
        print(f"{name:7} S={args.subscribers} E={args.events}  {figures}", flush=True)


if __name__ == "__main__":
    main()
