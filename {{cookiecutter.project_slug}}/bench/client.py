"""The load's sockets: the project's Python client, and a lean request loop.

Sockets open as realtime_api.client opens them (the handshake's cookie and
Origin); setting up the load uses its RealtimeClient. What is measured stays
a bare send and receive of PROTOCOL.md frames, so that the client's own
bookkeeping is not in the figures. Only the protocol is spoken here, so the
load works against any server that speaks it, the reference endpoint
included.
"""

import asyncio
import itertools
import json

import websockets

from realtime_api.client import RealtimeClient, RealtimeError, open_socket


class BenchError(Exception):
    """The load cannot go on: the message says what the server answered."""


async def connect(url, target, cookie=None, **options):
    """Open a socket as a browser tab of the load's session would.

    `cookie` replaces the load's own session cookie (W2u: one user a socket);
    `options` go to websockets.connect (e.g. `local_addr`).
    """
    cookie = target.cookie if cookie is None else cookie
    try:
        return await open_socket(
            url,
            cookie=cookie or None,
            origin=target.origin,
            open_timeout=20,
            # Measure the server, not zlib or keepalive pings.
            compression=None,
            ping_interval=None,
            max_size=None,
            **options,
        )
    except (OSError, RealtimeError, websockets.InvalidHandshake, TimeoutError) as exc:
        raise BenchError(f"Cannot open {url}: {exc}") from None


def client(url, target):
    """A RealtimeClient of the load's user, for setting the load up."""
    return RealtimeClient(
        url,
        cookie=target.cookie or None,
        origin=target.origin,
        reconnect=False,
        timeout=20,
        open_timeout=20,
    )


async def connect_many(url, target, count, advance, cookies=None, concurrency=50):
    """Open `count` sockets, `concurrency` handshakes at a time.

    With `cookies` (one per socket), socket n presents cookies[n].
    """
    limit = asyncio.Semaphore(concurrency)

    async def one(n):
        async with limit:
            ws = await connect(url, target, cookies[n] if cookies else None)
        advance(1)
        return ws

    tasks = [asyncio.create_task(one(n)) for n in range(count)]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        opened = await asyncio.gather(*tasks, return_exceptions=True)
        await close_all([ws for ws in opened if not isinstance(ws, BaseException)])
        raise


async def close_all(sockets):
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


_request_ids = itertools.count(1)


async def request(ws, path, payload):
    """Send a request frame; return its response frame (events are skipped)."""
    request_id = next(_request_ids)
    frame = {"stream": path, "payload": payload, "request_id": request_id}
    await ws.send(json.dumps(frame))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("type") == "response" and reply.get("request_id") == request_id:
            return reply


async def expect(ws, path, payload, status, where):
    """Like request(), but a status other than `status` stops the load."""
    reply = await request(ws, path, payload)
    if reply.get("status") != status:
        raise BenchError(
            f"{where}: {path} answered {reply.get('status')}, not {status}: "
            f"{json.dumps(reply.get('data'))[:300]}"
        )
    return reply
