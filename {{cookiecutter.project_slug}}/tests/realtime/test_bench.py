"""`manage.py realtime_bench`: a quick smoke run against real daphne servers.

Small sizes only: this proves the tool works end to end, not how fast the
server is (BENCHMARKS.md says how to run the full benchmark).
"""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from realtime_api.live_server import DaphneServer
from realtime_api.registry import get_registry

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = ["--requests", "6", "--sockets", "2", "--subscribers", "4", "--events", "3"]
SMALL += ["--idle", "8", "--timeout", "30", "--no-progress"]


@pytest.fixture
def needs_default_scenario():
    """The default scenario creates comments in a topic: the sample app's streams."""
    if not {"topics", "comments"} <= set(get_registry().names()):
        pytest.skip(
            "the default realtime_bench scenario uses the sample app's `topics` "
            "and `comments` streams (pass --stream/--payload for your own)"
        )


@pytest.fixture
def bench_server(transactional_db):
    """daphne serving the project plus the reference endpoint (bench/asgi.py)."""
    server = DaphneServer(application="realtime_api.bench.asgi:application")
    yield server.start()
    server.stop()


def test_smoke_run_measures_every_workload_against_the_reference(
    needs_default_scenario, bench_server, tmp_path
):
    """Every workload runs on both endpoints; no event is missing; ratios are given."""
    path = tmp_path / "bench.json"
    out = StringIO()
    call_command(
        "realtime_bench",
        "--url",
        f"{bench_server.url}/ws/",
        "--server-pid",
        str(bench_server.process.pid),
        "--json",
        str(path),
        *SMALL,
        stdout=out,
    )
    report = json.loads(path.read_text())
    measured = {(row["workload"], row["endpoint"]) for row in report["rows"]}
    for workload in (
        "W1 create, 1 socket",
        "W1 create, 2 sockets",
        "W2 fan-out, 4 subscribers",
        "W3 idle, 8 sockets",
    ):
        assert {(workload, "app"), (workload, "reference")} <= measured, measured
    assert ("HTTP create, keep-alive", "http") in measured
    rows = {(row["workload"], row["endpoint"]): row for row in report["rows"]}
    for endpoint in ("app", "reference"):
        assert rows[("W2 fan-out, 4 subscribers", endpoint)]["missing"] == 0
        assert rows[("W1 create, 1 socket", endpoint)]["rate"] > 0
    # Live queries are the app's own: measured on the app, compared with W2.
    assert rows[("W4 watch, 4 watchers", "app")]["missing"] == 0
    assert len(report["ratios"]) == 6, report["ratios"]
    assert report["skipped"] == {}
    assert "W2 fan-out, 4 subscribers" in out.getvalue()


def test_comparison_is_skipped_when_the_server_has_no_reference(
    needs_default_scenario, daphne_server
):
    """Against config.asgi alone, the app is measured and the reference skipped."""
    out = StringIO()
    call_command(
        "realtime_bench",
        "--url",
        f"{daphne_server.url}/ws/",
        "--workloads",
        "w1",
        *SMALL,
        stdout=out,
    )
    text = out.getvalue()
    assert "Skipped reference" in text
    assert "realtime_api.bench.asgi:application" in text


def test_a_remote_server_needs_allow_remote(db):
    """The load tool stays on this machine unless told otherwise."""
    with pytest.raises(CommandError, match="--allow-remote"):
        call_command("realtime_bench", "--url", "ws://192.0.2.1/ws/")
