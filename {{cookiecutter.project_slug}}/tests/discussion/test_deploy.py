"""deploy/ for real: nginx (the shipped site, without TLS) in front of two
daphne processes started as the shipped systemd unit starts them, on the
production settings, PostgreSQL and Redis.

The processes start once for the module; every test goes through nginx.
"""

import asyncio
import json
import time

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from bench.nginx import NginxServer, unit_backlog, unit_daphne_options
from discussion.models import Comment, Topic
from realtime_api.client import HandshakeRefused, open_socket, origin_of
from realtime_api.testing import create_session
from realtime_api.testing.live_server import (
    DaphneServer,
    LiveClient,
    database_url,
    http_get,
)
from tests.conftest import production_env, require_program
from tests.prometheus import parse, value

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

METRICS_TOKEN = "deploy-test-token"
SCRIPT = "realtime_api/realtime.js"


class Stack:
    """nginx and the daphne processes behind it."""

    def __init__(self, nginx, servers, static_root):
        self.nginx = nginx
        self.servers = servers
        self.static_root = static_root

    def get(self, path, **headers):
        return http_get(self.nginx.url + path, headers=headers)

    async def connect(self, user=None):
        key = None
        if user is not None:
            key = await database_sync_to_async(create_session)(user)
        return await LiveClient.connect(self.nginx.ws_url, key, origin=self.origin)

    @property
    def origin(self):
        """The page's own origin: nginx stands for the TLS terminator here
        (tests/nginx.py), so the browser's page is https://<nginx host>."""
        return origin_of(self.nginx.ws_url).replace("http://", "https://")

    def upstream_of(self, client):
        """The daphne process that nginx sent this socket to."""
        address = client.connection.response.headers["X-Upstream"]
        return next(s for s in self.servers if address.endswith(f":{s.port}"))


@pytest.fixture(scope="module")
def stack(django_db_setup, collected_static, tmp_path_factory):
    """Started once for the module, after the test database exists."""
    nginx_binary = require_program("nginx", "to run deploy/nginx.conf")
    metrics_dir = tmp_path_factory.mktemp("metrics")
    env = production_env(
        DATABASE_URL=database_url(),  # the test database, not the environment's
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # sessions made by the tests
        DJANGO_STATIC_ROOT=str(collected_static),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=METRICS_TOKEN,
    )
    options, backlog = unit_daphne_options(), unit_backlog()
    servers = [
        DaphneServer(env=env, options=options, backlog=backlog) for _ in range(2)
    ]
    nginx = NginxServer(
        nginx_binary,
        tmp_path_factory.mktemp("nginx"),
        [server.port for server in servers],
        collected_static,
        # Test only: name the process a socket went to.
        extra_ws_directives="        add_header X-Upstream $upstream_addr always;\n",
    )
    try:
        for server in servers:
            server.start()
            wait_until_ready(server)
        nginx.start()
        yield Stack(nginx, servers, collected_static)
    finally:
        nginx.stop()
        for server in servers:
            server.stop()


def wait_until_ready(server, timeout=30):
    """Wait for /readyz, as a deployment does before sending traffic."""
    url = f"http://127.0.0.1:{server.port}/readyz"
    deadline = time.monotonic() + timeout
    while http_get(url, timeout=timeout).status != 200:
        assert time.monotonic() < deadline, f"not ready:\n{server.log()}"
        time.sleep(0.2)


def static_name(static_root, name):
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return manifest["paths"][name]


def test_http_api_probes_and_schema_through_nginx(stack):
    """Host and X-Forwarded-Proto reach the app: no DisallowedHost, no redirect."""
    root = stack.get("/api/")
    assert root.status == 200, root
    assert set(root.json()) == {"topics", "comments"}
    # The production settings see HTTPS (nginx's X-Forwarded-Proto): HSTS.
    assert "max-age=" in root.headers["strict-transport-security"]
    assert stack.get("/api/topics/").status == 200
    assert stack.get("/api/schema/").status == 200
    assert stack.get("/healthz").json() == {"status": "ok"}
    assert stack.get("/readyz").json()["status"] == "ok"
    # nginx states the client's address: one the client sent is not believed
    # (daphne logs the address it takes for the client's).
    spoofed = stack.get("/api/?spoofed", **{"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status == 200
    logs = "".join(server.log() for server in stack.servers)
    assert '"GET /api/?spoofed"' in logs
    assert "203.0.113.9" not in logs
    # Without the proxy's headers the same request is redirected to HTTPS.
    direct = http_get(f"http://127.0.0.1:{stack.servers[0].port}/api/")
    assert direct.status == 301
    assert direct.headers["location"].startswith("https://")


def test_static_files_through_nginx_and_without_it(stack):
    """nginx serves collectstatic's files; so does WhiteNoise in each process."""
    hashed = static_name(stack.static_root, SCRIPT)
    content = (stack.static_root / SCRIPT).read_bytes()
    through_nginx = stack.get(f"/static/{hashed}")
    assert through_nginx.status == 200
    assert through_nginx.body == content
    assert "immutable" in through_nginx.headers["cache-control"]
    gzipped = stack.get(f"/static/{hashed}", **{"Accept-Encoding": "gzip"})
    assert gzipped.headers.get("content-encoding") == "gzip"
    assert stack.get(f"/static/{SCRIPT}").body == content

    direct = http_get(
        f"http://127.0.0.1:{stack.servers[1].port}/static/{hashed}",
        headers={"X-Forwarded-Proto": "https"},  # as a platform's router sends
    )
    assert direct.status == 200
    assert direct.body == content
    assert "immutable" in direct.headers["cache-control"]


async def test_cookie_sockets_need_the_pages_own_origin_through_nginx(stack, user):
    """nginx passes the browser's Host and states the scheme itself, so the
    Origin check sees what the browser saw: the page's own origin (https, as
    nginx terminates TLS) opens; another scheme (even with a forged
    X-Forwarded-Proto, which nginx replaces), another port or no Origin is
    refused with 403."""
    async with await stack.connect(user) as client:
        assert (await client.request("topics", "list"))["status"] == 200
    key = await database_sync_to_async(create_session)(user)
    url = stack.nginx.ws_url + "/ws/"
    plain = stack.origin.replace("https://", "http://")
    for origin, headers in [
        (plain, {}),
        (plain, {"X-Forwarded-Proto": "http"}),
        ("https://127.0.0.1:1", {}),
        (None, {}),
    ]:
        with pytest.raises(HandshakeRefused) as refused:
            socket = await open_socket(
                url,
                cookie={settings.SESSION_COOKIE_NAME: key},
                origin=origin,
                headers=headers,
            )
            await socket.close()
        assert refused.value.status == 403, (origin, headers)


async def test_websocket_crud_events_across_processes_and_frame_limit(stack, user):
    """CRUD over the socket; an event made in one process reaches the other;
    an oversize frame is answered 413 by the app, not cut by nginx."""
    writer = await stack.connect(user)
    reader = await stack.connect()
    async with writer, reader:
        assert stack.upstream_of(writer) is not stack.upstream_of(reader)
        topic = await writer.request("topics", "create", payload={"title": "Deploy"})
        assert topic["status"] == 201, topic
        topic_id = topic["data"]["id"]
        subscribed = await reader.request(
            "comments", "subscribe", payload={"topic": topic_id}
        )
        assert subscribed["status"] == 200, subscribed

        payload = {"topic": topic_id, "text": "through nginx"}
        created = await writer.request("comments", "create", payload=payload)
        assert created["status"] == 201, created
        comment_id = created["data"]["id"]
        event = await reader.receive_event()
        assert (event["action"], event["data"]["id"]) == ("create", comment_id)

        updated = await writer.request(
            "comments", "update", lookup=comment_id, payload={"text": "edited"}
        )
        assert updated["status"] == 200
        assert (await reader.receive_event())["data"]["text"] == "edited"
        listed = await reader.request("comments", "list", payload={"topic": topic_id})
        assert [c["text"] for c in listed["data"]["results"]] == ["edited"]
        assert stack.get(f"/api/comments/{comment_id}/").json()["text"] == "edited"
        deleted = await writer.request("comments", "delete", lookup=comment_id)
        assert deleted["status"] == 204
        assert (await reader.receive_event())["action"] == "delete"

        big = "x" * (settings.REALTIME_API_MAX_FRAME_BYTES + 1)
        frame = json.dumps(
            {"stream": "comments/create/", "request_id": "big", "payload": {"t": big}}
        )
        await writer.send_text(frame)
        response = json.loads(await writer.receive_text(timeout=10))
        # Not parsed (PROTOCOL.md), so its request_id is not known either.
        assert (response["status"], response["request_id"]) == (413, None)
        assert (await writer.request("topics", "list"))["status"] == 200


def scrape(url):
    response = http_get(
        url + "/metrics",
        headers={
            "Authorization": f"Bearer {METRICS_TOKEN}",
            "X-Forwarded-Proto": "https",
        },
    )
    assert response.status == 200, response
    return response.body.decode()


def sample(text, name, **labels):
    return value(parse(text), name, **labels)


async def test_metrics_sum_every_process(stack, user):
    """/metrics needs the token; any process answers with the sum of both."""
    assert stack.get("/metrics").status == 401
    direct = [f"http://127.0.0.1:{server.port}" for server in stack.servers]
    before = sample(scrape(stack.nginx.url), "realtime_websocket_connections")
    one, two = await stack.connect(user), await stack.connect()
    async with one, two:
        assert stack.upstream_of(one) is not stack.upstream_of(two)
        await one.request("topics", "list")
        for url in [stack.nginx.url, *direct]:
            text = scrape(url)
            assert sample(text, "realtime_websocket_connections") == before + 2
            frames = sample(
                text,
                "realtime_frames_total",
                stream="topics",
                action="list",
                status="200",
            )
            assert frames >= 1


class Reader:
    """A subscriber that reconnects through nginx and resumes with `since`."""

    def __init__(self, stack, topic_id):
        self.stack = stack
        self.topic_id = topic_id
        self.seen = set()  # comment ids whose create event arrived
        self.last_seq = None
        self.reconnects = 0
        self.resumed = 0
        self.client = None

    async def subscribe(self):
        self.client = await self.stack.connect()
        response = await self.client.request(
            "comments",
            "subscribe",
            payload={"topic": self.topic_id},
            since=self.last_seq,
        )
        assert response["status"] == 200, response
        if self.last_seq is not None:
            assert response["resumed"] is True, response
            self.resumed += 1

    async def run(self, stop):
        await self.subscribe()
        while not stop.is_set():
            try:
                event = await self.client.receive_event(timeout=0.2)
            except TimeoutError:
                continue
            except websockets.ConnectionClosed:
                await self.reconnect()
                continue
            self.last_seq = event["seq"]
            if event["action"] == "create":
                self.seen.add(event["data"]["id"])
        await self.client.connection.close()

    async def reconnect(self):
        self.reconnects += 1
        for _attempt in range(100):
            try:
                await self.subscribe()
                return
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(0.1)
        raise AssertionError("could not reconnect through nginx")


async def test_rolling_restart_loses_no_event(stack, user):
    """One process is stopped (SIGTERM) and started on its port while
    subscribers listen: they reconnect through nginx, resume with `since`,
    and miss no event."""
    topic = await Topic.objects.acreate(title="Rolling", owner=user)
    stop = asyncio.Event()
    readers = [Reader(stack, topic.pk) for _ in range(6)]
    tasks = [asyncio.create_task(reader.run(stop)) for reader in readers]
    writer = await stack.connect(user)
    restarted = next(s for s in stack.servers if s is not stack.upstream_of(writer))
    on_restarted = 0

    async def write(count):
        for i in range(count):
            payload = {"topic": topic.pk, "text": f"comment {i}"}
            created = await writer.request("comments", "create", payload=payload)
            assert created["status"] == 201, created
            await asyncio.sleep(0.01)

    try:
        await write(10)
        on_restarted = sum(stack.upstream_of(r.client) is restarted for r in readers)
        started = time.monotonic()
        await asyncio.to_thread(restarted.stop)  # SIGTERM, as systemd stops it
        await write(10)  # Missed by the restarted process's readers, for now.
        await asyncio.to_thread(restarted.start)
        await asyncio.to_thread(wait_until_ready, restarted)
        restart_seconds = time.monotonic() - started
        await write(10)
        expected = set(
            await database_sync_to_async(list)(
                Comment.objects.filter(topic=topic).values_list("pk", flat=True)
            )
        )
        deadline = time.monotonic() + 15
        while any(r.seen < expected for r in readers):
            assert time.monotonic() < deadline, "readers did not catch up"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await writer.connection.close()

    lost = sum(len(expected - reader.seen) for reader in readers)
    print(
        f"\nrolling restart: {len(expected)} events x {len(readers)} readers, "
        f"{on_restarted} readers on the restarted process, "
        f"{sum(r.reconnects for r in readers)} reconnects, "
        f"{sum(r.resumed for r in readers)} resumed, lost events: {lost}, "
        f"restart took {restart_seconds:.1f} s"
    )
    assert lost == 0
    assert on_restarted > 0
    assert sum(r.resumed for r in readers) >= on_restarted
    for task in tasks:
        assert task.exception() is None
