"""/metrics: Prometheus' format, for staff and the bearer token only, and
figures that move with what sockets do."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from realtime_api.testing import AuthWebsocketCommunicator
from tests.prometheus import parse, value

from .whoami import application

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-test-token"


@pytest.fixture
def metrics_token(settings):
    settings.REALTIME_API_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client=None, **headers):
    """Read /metrics as Prometheus would: {(sample name, labels): value}."""
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def test_anonymous_gets_a_401_asking_for_the_token():
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"realtime_" not in response.content


def test_a_user_who_is_not_staff_gets_a_403(user, metrics_token):
    client = Client()
    client.force_login(user)
    assert client.get("/metrics").status_code == 403


def test_a_wrong_token_gets_a_401(metrics_token):
    headers = {"Authorization": f"Bearer {TOKEN}x"}
    assert Client().get("/metrics", headers=headers).status_code == 401


def test_no_token_configured_refuses_every_token(settings):
    settings.REALTIME_API_METRICS_TOKEN = None
    headers = {"Authorization": "Bearer "}
    assert Client().get("/metrics", headers=headers).status_code == 401


def test_staff_and_the_token_may_read(admin, metrics_token):
    client = Client()
    client.force_login(admin)
    assert "realtime_websocket_connections" in {name for name, _ in scrape(client)}
    assert scrape(Authorization=f"Bearer {TOKEN}")


async def test_figures_move_with_sockets_and_frames(metrics_token):
    """Open sockets, frames by stream/action/status, latency, closes by code."""
    read = sync_to_async(scrape)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = await read(**auth)
    async with AuthWebsocketCommunicator(application, "/ws/") as ws:
        assert (await ws.request("whoami", "list"))["status"] == 200
        assert (await ws.request("nope", "list"))["status"] == 404
        assert (await ws.request("whoami", "dance"))["status"] == 405
        during = await read(**auth)
    after = await read(**auth)

    def moved(samples, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    assert moved(during, "realtime_websocket_connections") == 1
    assert moved(after, "realtime_websocket_connections") == 0
    frames = "realtime_frames_total"
    assert moved(during, frames, stream="whoami", action="list", status="200") == 1
    # A stream or action nobody registered is "unknown": clients do not get
    # to make up label values.
    assert moved(during, frames, stream="unknown", action="list", status="404") == 1
    assert moved(during, frames, stream="whoami", action="unknown", status="405") == 1
    latency = "realtime_request_duration_seconds_count"
    assert moved(during, latency, stream="whoami", action="list") == 1
    closes = "realtime_websocket_closes_total"
    assert moved(during, closes, code="1000") == 0
    assert moved(after, closes, code="1000") == 1
