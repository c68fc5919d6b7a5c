"""The load tool under abuse: F1 (flood), S1 (slow consumer), and the soak.

Small sizes, except the soak: `python -m bench --soak SECONDS` runs for
REALTIME_SOAK_SECONDS (15 by default; CI runs 60) against a real daphne and
must lose no event, double none, see no error, and keep the server's RSS
within 10% after its warm-up.
"""

import json
import os

import pytest

from realtime_api.testing.live_server import DaphneServer

from .test_bench import LOG_ENTRIES, run_bench

# The flood, the slow consumer and the soak: long runs (pytest --long).
pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("REALTIME_SOAK_SECONDS", "15"))


@pytest.fixture
def log_entries_server(transactional_db):
    """daphne serving the project, the reference and logentries.py's streams."""
    server = DaphneServer(application="tests.bench.logentries_asgi:application")
    yield server.start()
    server.stop()


def test_flood_and_slow_consumer_workloads_run(log_entries_server, tmp_path):
    """F1 gives its ratio; S1 loses nothing and sees the stalled socket closed."""
    path = tmp_path / "bench.json"
    status, out = run_bench(
        "--url",
        f"{log_entries_server.url}/ws/",
        "--server-pid",
        str(log_entries_server.process.pid),
        "--workloads",
        "flood,slow",
        "--flood-creates",
        "10",
        "--pace",
        "40",
        "--slow-events",
        "30",
        "--readers",
        "2",
        "--stall",
        "1",
        "--timeout",
        "60",
        "--no-progress",
        "--json",
        str(path),
        *LOG_ENTRIES,
    )
    assert status == 0, out
    report = json.loads(path.read_text())
    rows = {row["workload"]: row for row in report["rows"]}
    assert rows["F1 create at 40/s, alone"]["p99_ms"] > 0
    assert rows["F1 create at 40/s, another socket flooding"]["p99_ms"] > 0
    assert rows["S1 fan-out, 2 readers, 1 socket not reading"]["missing"] == 0
    assert any(r["name"].endswith("p99 / p99 alone") for r in report["ratios"])
    flood, slow = report["notes"]
    assert "4008" in flood  # The flooder was closed for flooding.
    assert "30 events" in slow


@pytest.mark.timeout(120 + SOAK_SECONDS)
def test_soak_loses_nothing_and_does_not_grow(log_entries_server, tmp_path):
    """Steady writes, churn and resumes: 0 missing, 0 doubled, RSS within 10%."""
    path = tmp_path / "soak.json"
    status, out = run_bench(
        "--url",
        f"{log_entries_server.url}/ws/",
        "--server-pid",
        str(log_entries_server.process.pid),
        "--soak",
        str(SOAK_SECONDS),
        "--no-progress",
        "--json",
        str(path),
        *LOG_ENTRIES,
    )
    soak = json.loads(path.read_text())
    assert status == 0, out
    assert soak["creates"] > 0 and soak["resumes"] > 0 and soak["churns"] > 0
    assert (soak["missing"], soak["duplicates"], soak["errors"]) == (0, 0, [])
    assert soak["rss_growth"] is not None and soak["rss_growth"] <= 0.10, out
