"""`python -m bench.scale`, smoke-sized: two daphne processes behind the
shipped nginx site, a few dozen sockets, a restart. It proves the tool runs
end to end and loses nothing; bench/BENCHMARKS.md ("Scale") has the real run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from realtime_api.testing.live_server import database_url
from tests.conftest import require_program

pytestmark = [
    pytest.mark.slow,
    pytest.mark.live,
    pytest.mark.deploy,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.timeout(180)
def test_the_scale_bench_measures_and_loses_nothing(tmp_path):
    require_program("nginx", "to run deploy/nginx.conf in front of the processes")
    figures = tmp_path / "scale.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
    }
    arguments = ["--processes", "2", "--sockets", "40", "--subscribed", "10"]
    arguments += ["--rate", "10", "--seconds", "2", "--reconnect-timeout", "60"]
    arguments += ["--site-handshakes", "100", "--backlog", "256"]
    arguments += ["--json", str(figures), "--plot", str(tmp_path / "scale")]
    run = subprocess.run(
        [sys.executable, "-m", "bench.scale", *arguments],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (point,) = json.loads(figures.read_text())
    assert point["events"] == 20
    assert point["missing"] == 0
    assert point["latency_p99_ms"] > 0
    assert all(kib > 0 for kib in point["rss_kib_per_socket"])
    assert point["restarted_sockets"] > 0
    assert point["reconnect_seconds"] is not None
    assert point["missing_after_restart"] == 0
    # Events went on during the reconnects, to the other process's sockets too.
    assert point["storm_events"] >= 5
    assert point["others_p99_before_ms"] > 0
    assert point["others_p99_storm_ms"] > 0
    assert "| processes | sockets |" in run.stdout
    for chart in ("latency", "memory"):
        assert (tmp_path / f"scale-{chart}.png").stat().st_size > 1000
