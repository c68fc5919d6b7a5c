"""/healthz and /readyz: answered before the host check and the HTTPS
redirect; /readyz names what failed, and recovers with its servers."""

import time

import pytest
from django.test import Client

from realtime_api.testing.live_server import DaphneServer, http_get

# A probe addresses one process by its address, over plain HTTP.
PROBE_HOST = "10.0.0.7:8001"


def test_healthz_answers_without_the_database():
    """The process answers; the database is not touched (no `db` fixture here)."""
    response = Client().get("/healthz", headers={"Host": PROBE_HOST})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_probes_skip_the_host_check_and_https_redirect(settings, db):
    """A host outside ALLOWED_HOSTS over HTTP, with the HTTPS redirect on."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client(headers={"Host": PROBE_HOST})
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/").status_code == 400  # Everything else: DisallowedHost.


@pytest.mark.django_db
def test_readyz_checks_the_database_and_channel_layer():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok"},
    }


def test_probes_answer_only_get_and_head(db):
    """A POST is the application's: here no view, so a 404 (or a CSRF 403)."""
    assert Client().post("/healthz").status_code in (403, 404)
    assert Client().head("/readyz").status_code == 200


def get(server, path):
    response = http_get(f"http://127.0.0.1:{server.port}{path}")
    return response.status, response.json()


def wait_for(server, path, status, timeout=15):
    """Poll until `path` answers `status`; return the last (status, body)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get(server, path)
        if answer[0] == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


@pytest.fixture
def live_server_on(transactional_db):
    """Start daphne servers with extra environment; stopped after the test."""
    servers = []

    def start(**env):
        server = DaphneServer(env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.redis
def test_readyz_names_the_channel_layer_while_redis_is_down(
    live_server_on, spare_redis
):
    """Redis stops: 503 naming the channel layer, /healthz still 200; then back."""
    server = live_server_on(REDIS_URL=spare_redis.url, REDIS_CHANNEL_LAYER="pubsub")
    assert get(server, "/readyz") == (
        200,
        {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}},
    )
    spare_redis.stop()
    status, body = get(server, "/readyz")
    assert status == 503, body
    assert body["failed"] == ["channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("unreachable")
    assert get(server, "/healthz") == (200, {"status": "ok"})

    spare_redis.start()
    assert wait_for(server, "/readyz", 200)[0] == 200


@pytest.mark.live
def test_readyz_names_the_database_when_it_cannot_connect(live_server_on, tmp_path):
    """A database that cannot be opened: 503 naming the database only."""
    missing = tmp_path / "no-such-folder" / "db.sqlite3"
    server = live_server_on(DATABASE_URL=f"sqlite:///{missing}")
    status, body = get(server, "/readyz")
    assert status == 503, body
    assert body["failed"] == ["database"]
    assert body["checks"]["channel_layer"] == "ok"
    assert get(server, "/healthz") == (200, {"status": "ok"})
