"""Workloads under abuse: a flooding socket, and a socket that stops reading.

- F1 (flood): a well-behaved socket makes creates at a steady pace, first
  alone, then while another socket (in a process of its own, so that it
  does not slow the measuring loop) sends `list` frames at full speed
  without reading, and reconnects whenever it is closed. The figure is the
  well-behaved socket's p99 while flooded, as a ratio to its p99 alone.
- S1 (slow consumer): `readers` sockets subscribe and read; one more
  subscribes and stops reading for STALL seconds while `events` creates of
  about 2 KB are made. Figures: the readers' delivery p50/p99, events
  missing, the server's RSS growth, and how the stalled socket was closed
  (4009 once it reads again: it then resumes with `since`).
"""

import asyncio
import json
import multiprocessing
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

import websockets

from .client import close_all, connect, connect_many, expect, request
from .scenario import fill
from .workloads import percentile, server_rss

EVENT_TEXT = 1900  # Characters added to a create's "{i}" strings: ~2 KB events.
STALL = 20  # Seconds S1's stalled socket reads nothing.


async def paced_creates(url, target, scenario, parent, count, pace):
    """`count` creates, one every 1/`pace` s, each awaited: latencies (s)."""
    path = f"{scenario.stream}/create/"
    ws = await connect(url, target)
    latencies = []
    try:
        await expect(ws, path, fill(scenario.payload, parent, -1), 201, url)
        start = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0, start + i / pace - time.perf_counter()))
            before = time.perf_counter()
            await expect(ws, path, fill(scenario.payload, parent, i), 201, url)
            latencies.append(time.perf_counter() - before)
    finally:
        await close_all([ws])
    return latencies


async def flood(url, target, scenario, parent, count, pace):
    """F1: (alone, flooded) as (p50, p99) ms each, and what the flooder saw."""
    alone = await paced_creates(url, target, scenario, parent, count, pace)
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    flooder = context.Process(
        target=run_flooder,
        args=(
            url,
            target.flooder_cookie or target.cookie,
            target.origin,
            scenario.stream,
            stop,
            results,
        ),
        daemon=True,
    )
    flooder.start()
    try:
        await asyncio.sleep(2)  # Its first socket is open and flooding.
        flooded = await paced_creates(url, target, scenario, parent, count, pace)
    finally:
        stop.set()
        stats = await asyncio.to_thread(results.get, True, 30)
        flooder.join(10)
    figures = [(percentile(x, 0.5), percentile(x, 0.99)) for x in (alone, flooded)]
    return figures[0], figures[1], stats


def run_flooder(url, cookie, origin, stream, stop, results):
    """In a process of its own: flood until `stop`, then report."""
    stats = asyncio.run(flood_forever(url, cookie, origin, stream, stop))
    results.put(stats)


async def flood_forever(url, cookie, origin, stream, stop):
    """Send `list` frames without reading; reconnect at once when closed."""
    frame = json.dumps({"stream": f"{stream}/list/", "request_id": "flood"})
    sent, sockets, closes = 0, 0, Counter()
    while not stop.is_set():
        try:
            ws = await websockets.connect(
                url,
                origin=origin,
                additional_headers={"Cookie": cookie} if cookie else {},
                compression=None,
                ping_interval=None,
                max_queue=1,
            )
        except (OSError, websockets.InvalidHandshake):
            await asyncio.sleep(0.1)
            continue
        sockets += 1
        try:
            while not stop.is_set():
                for _ in range(50):
                    await ws.send(frame)
                    sent += 1
                await asyncio.sleep(0)
            await ws.close()
        except websockets.ConnectionClosed as closed:
            closes[closed.rcvd.code if closed.rcvd else 1006] += 1
    return {"frames": sent, "sockets": sockets, "closes": dict(closes)}


def padded(payload):
    """The payload template with ~2 KB more in each string that has "{i}"."""
    return {
        key: f"{value} {'x' * EVENT_TEXT}"
        if isinstance(value, str) and "{i}" in value
        else value
        for key, value in payload.items()
    }


async def stalled_socket(url, target):
    """A socket that will not read: a small receive buffer, one frame queued."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    return await websockets.connect(
        url,
        sock=sock,
        origin=target.origin,
        additional_headers={"Cookie": target.cookie} if target.cookie else {},
        compression=None,
        ping_interval=None,
        max_queue=1,
        open_timeout=20,
    )


async def slow_consumer(
    url, target, scenario, parent, events, readers, advance, stall=STALL
):
    """S1: returns a dict of figures (see the module's docstring)."""
    subscribe = fill(scenario.subscribe, parent)
    path = f"{scenario.stream}/subscribe/"
    subs = await connect_many(url, target, readers, lambda n: None)
    stalled = await stalled_socket(url, target)
    writers = [await connect(url, target) for _ in range(4)]
    samples, arrivals, sent_at, refused = [], [], {}, Counter()
    listeners = []
    try:
        template = padded(scenario.payload)
        create = f"{scenario.stream}/create/"
        probe = await request(writers[0], create, fill(template, parent, -1))
        if probe["status"] != 201:  # The stream takes no 2 KB: as it comes.
            template = scenario.payload
        for ws in [*subs, stalled]:
            await expect(ws, path, subscribe, 200, url)
        rss_before = server_rss(target.server_pid) if target.server_pid else None

        async def listen(ws):
            got = 0
            while got < events:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "event" and frame["action"] == "create":
                    arrivals.append((frame["data"].get("id"), time.perf_counter()))
                    got += 1

        async def sample():
            while target.server_pid:
                samples.append(server_rss(target.server_pid))
                await asyncio.sleep(0.5)

        listeners = [asyncio.create_task(listen(ws)) for ws in subs]
        sampler = asyncio.create_task(sample())
        numbers = iter(range(events))

        async def write(ws):
            for i in numbers:
                payload = fill(template, parent, i)
                while True:
                    before = time.perf_counter()
                    reply = await request(ws, f"{scenario.stream}/create/", payload)
                    if reply["status"] != 429:
                        break
                    refused["429"] += 1  # Over the socket's rate: wait as told.
                    await asyncio.sleep(reply["data"].get("wait") or 0.1)
                if reply["status"] == 201:
                    sent_at[reply["data"]["id"]] = before
                advance(1)

        # It reads again after STALL seconds: before daphne's ping timeout
        # (20 s without a frame from it, then 30 s without its pong) cuts it.
        stalled_reads = asyncio.create_task(drain(stalled, delay=stall))
        await asyncio.gather(*(write(ws) for ws in writers))
        await asyncio.wait(listeners, timeout=15)
        sampler.cancel()
        stalled_frames, code = await stalled_reads
    finally:
        for listener in listeners:
            listener.cancel()
        await close_all([*writers, *subs, stalled])
    latencies = [at - sent_at[key] for key, at in arrivals if key in sent_at]
    known = [rss for rss in samples if rss]
    return {
        "events": len(sent_at),
        "readers": readers,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "missing": readers * len(sent_at) - len(latencies),
        "rss_before": rss_before,
        "rss_max": max(known) if known else None,
        "slow_socket_close": code,
        "slow_socket_frames": stalled_frames,
        "writer_429s": refused["429"],
        "padded": template is not scenario.payload,
    }


async def drain(ws, delay=0, quiet=5):
    """After `delay` s, read what a stalled socket still gets: (frames, code).

    The code is None when the socket stays open and quiet for `quiet` s: its
    backlog never passed the bound (it fit in the kernel's buffers).
    """
    await asyncio.sleep(delay)
    frames = 0
    try:
        while True:
            async with asyncio.timeout(quiet):
                await ws.recv()
            frames += 1
    except websockets.ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else 1006
    except TimeoutError:
        return frames, None
