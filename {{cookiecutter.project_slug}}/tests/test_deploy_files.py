"""deploy/ as shipped: its nginx site and systemd unit agree with each other,
and nginx accepts the site with TLS as it is."""

import re
import subprocess

import pytest
import websockets

from bench.nginx import (
    SITE,
    NginxServer,
    main_config,
    unit_daphne_options,
    unit_file,
)
from realtime_api.testing.live_server import free_port
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
    assert "--port %i" in unit and "--bind 127.0.0.1" in unit
    assert "--proxy-headers" in unit_daphne_options()
    assert re.search(r"^KillSignal=SIGTERM$", unit, re.MULTILINE)


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
