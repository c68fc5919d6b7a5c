"""deploy/ as shipped: its nginx site and systemd unit agree with each other,
and nginx accepts the site with TLS as it is."""

import asyncio
import re
import subprocess
import time

import pytest
import websockets

from bench.nginx import (
    SITE,
    NginxServer,
    main_config,
    unit_backlog,
    unit_daphne_options,
    unit_file,
)
from realtime_api.testing.live_server import DaphneServer, free_port
from tests.conftest import require_program


def seconds(value):
    """An nginx time ("120s", "2m", "90") in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[unit]


def option(options, name):
    return int(options[options.index(name) + 1])


def test_proxy_timeouts_exceed_the_servers_ping_interval():
    """An idle socket gets a ping before nginx's timeouts could cut it."""
    site = SITE.read_text()
    ws = site[site.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    options = unit_daphne_options()
    ping = option(options, "--ping-interval")
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        (value,) = re.findall(rf"{directive} (\w+);", ws)
        assert seconds(value) > ping + option(options, "--ping-timeout")


def test_unit_runs_one_daphne_per_port_behind_the_proxy():
    """The instance name is the port; client addresses come from nginx."""
    unit = unit_file().read_text()
    assert "--endpoint tcp:port=%i:interface=127.0.0.1:" in unit
    assert "--proxy-headers" in unit_daphne_options()
    assert re.search(r"^KillSignal=SIGTERM$", unit, re.MULTILINE)


def location(site, name):
    block = site[site.index(f"location {name} ") :]
    return block[: block.index("}")]


def test_unit_listens_with_a_backlog_that_holds_a_storm():
    """Twisted listens with a backlog of 50: after a restart the connections
    nginx opens at once overflow it and are reset (BENCHMARKS.md, "A paced
    reconnect storm"). The unit asks for more, and the options the tests and
    the bench start daphne with leave the endpoint to DaphneServer."""
    assert unit_backlog() >= 1024
    options = unit_daphne_options()
    assert not any(o.startswith(("--endpoint", "tcp:")) for o in options), options


@pytest.mark.live
@pytest.mark.deploy
def test_daphne_server_listens_with_the_units_backlog():
    """DaphneServer(backlog=...) starts daphne on the unit's kind of endpoint:
    the listening socket's queue (ss: Send-Q) is that long."""
    ss = require_program("ss", "to read a listening socket's backlog")
    server = DaphneServer(backlog=unit_backlog()).start()
    try:
        listening = subprocess.run(
            [ss, "-Hltn", f"sport = :{server.port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        server.stop()
    assert listening[0] == "LISTEN" and int(listening[2]) == unit_backlog()


def test_nginx_paces_handshakes_site_wide_without_refusing_at_once():
    """One zone for the whole site (a constant key): 50 handshakes a second
    in front of all the processes, the excess queued (no nodelay) up to a
    burst of 250, so a reconnect storm reaches the processes at a pace they
    can take; and only on the WebSocket location."""
    site = SITE.read_text()
    zone = r"^limit_req_zone \$server_name zone=(\w+_site_handshakes):\w+ "
    ((name, rate),) = re.findall(zone + r"rate=(\d+)r/s;", site, re.MULTILINE)
    assert int(rate) == 50
    ws = location(site, "/ws/")
    (burst,) = re.findall(rf"limit_req zone={name} burst=(\d+);", ws)
    assert int(burst) == 250
    assert name not in location(site, "/")


def test_nginx_never_marks_a_busy_process_down():
    """With the default max_fails=1, one failed connect to a process that is
    restarting (or busy with a storm) takes it out for fail_timeout, and nginx
    piles every reconnect onto the others."""
    site = SITE.read_text()
    upstream = site[site.index("upstream ") :]
    upstream = upstream[: upstream.index("}")]
    servers = re.findall(r"^    server (.*);$", upstream, re.MULTILINE)
    assert len(servers) >= 2
    for server in servers:
        assert "max_fails=0" in server.split(), server


def test_the_proxy_passes_the_host_and_states_the_scheme():
    """The Origin check of cookie sockets (realtime_api/auth/origins.py) compares the
    Origin with the request's scheme and Host: nginx must pass the browser's
    Host (port included) and set X-Forwarded-Proto itself, in both locations."""
    site = SITE.read_text()
    for location in ("location /ws/", "location / "):
        block = site[site.index(location) :]
        block = block[: block.index("}")]
        assert "proxy_set_header Host $http_host;" in block, location
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in block, location


@pytest.mark.live
@pytest.mark.deploy
def test_nginx_accepts_the_site_with_tls(tmp_path):
    """`nginx -t` on the shipped site, with a throwaway certificate."""
    nginx = require_program("nginx", "to check deploy/nginx.conf")
    openssl = require_program("openssl", "to make a throwaway certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_certificate = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes"]
    make_certificate += ["-days", "1", "-subj", "/CN=api.example.com"]
    make_certificate += ["-out", cert, "-keyout", key]
    subprocess.run(make_certificate, check=True, capture_output=True)
    site = SITE.read_text()
    site = re.sub(r"ssl_certificate \S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};", site)
    config = tmp_path / "nginx.conf"
    config.write_text(main_config(tmp_path, site))
    command = [nginx, "-t", "-p", tmp_path, "-c", config, "-e", tmp_path / "error.log"]
    check = subprocess.run(command, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_nginx_limits_handshakes_per_address_as_the_application_does():
    """The shipped rate and burst are the application's defaults."""
    from realtime_api.defaults import DEFAULTS

    site = SITE.read_text()
    (rate,) = re.findall(r"limit_req_zone \$binary_remote_addr .* rate=(\d+)r/s;", site)
    (burst,) = re.findall(r"limit_req zone=\w+ burst=(\d+) nodelay;", site)
    assert int(rate) == DEFAULTS["REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS"]
    assert int(burst) == DEFAULTS["REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS"]


async def handshake_status(url):
    """101, or the refusal's (status, Retry-After, body)."""
    try:
        async with websockets.connect(url, open_timeout=10):
            return 101
    except websockets.InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers.get("Retry-After"), response.body


@pytest.mark.live
@pytest.mark.deploy
async def test_nginx_refuses_a_handshake_flood_with_429(tmp_path):
    """The shipped site, its limit lowered to 1/s, burst 2: the 4th is 429.

    (nginx lets the first handshake and `burst` more through at once.)

    nginx answers it itself, with Retry-After and a JSON detail, before the
    upstream (a bare WebSocket server here) hears of it.
    """
    nginx_binary = require_program("nginx", "to run deploy/nginx.conf")
    upstream_port, heard = free_port(), []

    async def accept(ws):
        heard.append(ws)
        await ws.wait_closed()

    async with websockets.serve(accept, "127.0.0.1", upstream_port):
        nginx = NginxServer(
            nginx_binary, tmp_path, [upstream_port], tmp_path, handshake_limit=(1, 2)
        )
        nginx.start()
        try:
            url = f"{nginx.ws_url}/ws/"
            statuses = [await handshake_status(url) for _ in range(4)]
        finally:
            nginx.stop()
    assert statuses[:3] == [101, 101, 101], statuses
    status, retry_after, body = statuses[3]
    assert (status, retry_after) == (429, "1"), statuses
    assert b"Too many WebSocket handshakes" in body
    assert len(heard) == 3


@pytest.mark.live
@pytest.mark.deploy
async def test_nginx_queues_a_site_wide_storm_then_refuses_with_429(tmp_path):
    """The site zone lowered to 1/s, burst 2, the per-address one lifted: of 5
    handshakes at once, the first passes, 2 wait their turn (1 s, 2 s) and
    2 are refused 429 with Retry-After."""
    nginx_binary = require_program("nginx", "to run deploy/nginx.conf")
    upstream_port = free_port()

    async def accept(ws):
        await ws.wait_closed()

    async with websockets.serve(accept, "127.0.0.1", upstream_port):
        nginx = NginxServer(
            nginx_binary,
            tmp_path,
            [upstream_port],
            tmp_path,
            handshake_limit=(100_000, 100_000),
            site_handshake_limit=(1, 2),
        )
        nginx.start()
        try:
            url = f"{nginx.ws_url}/ws/"
            started = time.perf_counter()

            async def timed():
                status = await handshake_status(url)
                return status, time.perf_counter() - started

            results = await asyncio.gather(*(timed() for _ in range(5)))
        finally:
            nginx.stop()
    accepted = sorted(at for status, at in results if status == 101)
    refused = [status for status, _at in results if status != 101]
    assert len(accepted) == 3, results
    assert accepted[-1] >= 1.8, results  # paced at 1 a second, not refused
    for status, retry_after, body in refused:
        assert (status, retry_after) == (429, "1"), results
        assert b"Too many WebSocket handshakes" in body
