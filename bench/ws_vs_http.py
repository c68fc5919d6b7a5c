"""Create round trips per second over one WebSocket vs HTTP keep-alive.

An interim measurement until the generated project's `realtime_bench`
command exists. Run from a baked project with its dependencies installed:

    python ../../bench/ws_vs_http.py --count 500

It starts daphne on a fresh SQLite database, makes one user and one
session, then times `topics/create/` over one socket and POST /api/topics/
over one keep-alive HTTP connection, alternating rounds so that drift
between runs affects both alike.
"""

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import websockets


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], env=env, check=True)


def make_session(env):
    code = (
        "from django.contrib.auth import get_user_model, login;"
        "from django.http import HttpRequest;"
        "from django.contrib.sessions.backends.db import SessionStore;"
        "u = get_user_model().objects.create_user('bench', password='pw');"
        "r = HttpRequest(); r.session = SessionStore();"
        "login(r, u, 'django.contrib.auth.backends.ModelBackend');"
        "r.session.save(); print(r.session.session_key)"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def ws_round(port, cookie, count):
    headers = {"Origin": "http://localhost", "Cookie": cookie}
    url = f"ws://127.0.0.1:{port}/ws/"
    async with websockets.connect(url, additional_headers=headers) as ws:
        start = time.perf_counter()
        for i in range(count):
            frame = {"stream": "topics/create/", "payload": {"title": f"ws {i}"}}
            await ws.send(json.dumps(frame))
            reply = json.loads(await ws.recv())
            assert reply["status"] == 201, reply
        return count / (time.perf_counter() - start)


def http_round(port, cookie, csrf, count):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {
        "Cookie": cookie,
        "X-CSRFToken": csrf,
        "Origin": "http://localhost",
        "Host": "localhost",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    start = time.perf_counter()
    for i in range(count):
        body = json.dumps({"title": f"http {i}"})
        conn.request("POST", "/api/topics/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 201, response.status
    conn.close()
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
    }
    manage(env, "migrate", "-v0")
    session_key = make_session(env)
    csrf = "b" * 32
    cookie = f"sessionid={session_key}; csrftoken={csrf}"
    port = free_port()
    server = subprocess.Popen(
        ["daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        ws_rates, http_rates = [], []
        for _ in range(args.rounds):
            ws_rates.append(asyncio.run(ws_round(port, cookie, args.count)))
            http_rates.append(http_round(port, cookie, csrf, args.count))
        ws, web = statistics.median(ws_rates), statistics.median(http_rates)
        print(f"creates over 1 WebSocket : {ws:8.0f} req/s (median of {args.rounds})")
        print(f"creates over HTTP (k-a)  : {web:8.0f} req/s (median of {args.rounds})")
        print(f"ratio WS / HTTP          : {ws / web:8.2f}x")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
