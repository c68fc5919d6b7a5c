"""`python -m bench --peers`: smoke runs of every column of the equal-work
comparison against a real daphne server.

Small sizes only: this proves each column is measured end to end, not how
fast it is (bench/BENCHMARKS.md, "Equal work", has the figures). DCRF's
column needs the optional `bench-peers` extra: its test skips without it.
"""

import importlib.util
import json
import os
import subprocess
import sys
from importlib import import_module
from io import StringIO

import pytest
from django.core.management import call_command

from bench import cli
from bench.scenario import DEFAULT
from realtime_api.testing.live_server import DaphneServer, database_url

from .test_bench import PROJECT

# Servers for each column of the comparison: a long run (pytest --long).
pytestmark = pytest.mark.slow

SMALL = ["--requests", "6", "--sockets", "2", "--subscribers", "4", "--events", "3"]
SMALL += ["--idle", "8", "--timeout", "30", "--no-progress"]
HAS_DCRF = importlib.util.find_spec("djangochannelsrestframework") is not None


@pytest.fixture(scope="module")
def peers_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """One smoke run of the comparison (its JSON, its printout), shared by the
    tests below: a run opens a few hundred sockets. The server writes to the
    test database, which is emptied afterwards as `transactional_db` does."""
    with django_db_blocker.unblock():
        server = DaphneServer(application="tests.bench.peers_asgi:application")
        server.start()
        try:
            path = tmp_path_factory.mktemp("peers") / "peers.json"
            out = StringIO()
            status = cli.main(
                [
                    "--peers",
                    "--url",
                    f"{server.url}/ws/",
                    "--server-pid",
                    str(server.process.pid),
                    "--json",
                    str(path),
                    *SMALL,
                ],
                stdout=out,
            )
            log = server.log()
        finally:
            server.stop()
    assert status == 0, out.getvalue() + log[-3000:]
    report = json.loads(path.read_text())
    measured = {(m["workload"], m["column"]): m for m in report["measurements"]}
    yield measured, report["skipped"], out.getvalue()
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


def assert_measured(measured, column):
    """W1 (rate, CPU per create), W2 (nothing missing) and W3 on `column`."""
    assert measured[("W1 create, 1 socket", column)]["rate"] > 0
    assert measured[("W1 create, 1 socket", column)]["cpu_us"] > 0
    assert measured[("W1 create, 2 sockets", column)]["rate"] > 0
    assert measured[("W2 fan-out, 4 subscribers", column)]["missing"] == 0
    assert measured[("W3 idle, 8 sockets", column)]["rss_kib"] is not None


def test_our_stream_over_the_plain_view_is_measured(peers_run):
    """The equal column: our stream `peer-comments` over a plain ModelViewSet."""
    measured, _, out = peers_run
    assert_measured(measured, "equal")
    assert "W1 create, 1 socket: server CPU per create" in out


def test_the_bare_consumer_is_measured(peers_run):
    """The bare column: the reference consumer over the peer's model."""
    assert_measured(peers_run[0], "bare")


def test_the_sample_stream_is_measured_or_skipped_without_the_sample(peers_run):
    """The sample column needs the sample app, and says so when it is absent."""
    measured, skipped, _ = peers_run
    if DEFAULT is None:
        assert "include_sample_app=y" in skipped["sample"]
    else:
        assert_measured(measured, "sample")


@pytest.mark.skipif(not HAS_DCRF, reason="DCRF is the optional bench-peers extra")
def test_dcrf_is_measured_over_the_same_model(peers_run):
    """The DCRF column: DCRF 1.3's consumer, spoken to in its own frames."""
    measured, skipped, _ = peers_run
    assert "DCRF" not in skipped
    assert_measured(measured, "DCRF")


def test_without_the_bench_settings_the_peer_columns_say_how_to_serve_them(
    daphne_server,
):
    """Against config.asgi alone, the peer columns are skipped, each naming
    bench.settings; the exit status says nothing was compared."""
    out = StringIO()
    status = cli.main(
        ["--peers", "--url", f"{daphne_server.url}/ws/", *SMALL], stdout=out
    )
    text = " ".join(out.getvalue().split())
    for column in ("equal", "DCRF", "bare"):
        assert f"Skipped {column}:" in text
    assert text.count("DJANGO_SETTINGS_MODULE=bench.settings") >= 3
    if DEFAULT is None:
        assert status == 1
    else:
        assert status == 0  # The sample's stream is served: one column.


def test_the_bench_settings_measure_with_debug_off():
    """As production runs: DEBUG keeps every query, which costs per create."""
    assert import_module("bench.settings").DEBUG is False


def test_only_the_bench_settings_install_the_peer_app():
    """`migrate` with the project's settings never creates the bench's tables."""
    assert "bench.peer" not in import_module("config.settings.dev").INSTALLED_APPS
    assert "bench.peer" in import_module("bench.settings").INSTALLED_APPS


def test_in_process_cpu_per_create_of_each_column(transactional_db):
    """`python -m bench.peer.inprocess`: one CPU figure per column served."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url(),
    }
    command = [sys.executable, "-m", "bench.peer.inprocess", "--creates", "3"]
    result = subprocess.run(
        [*command, "--rounds", "1"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "W1 in process: 3 creates over 1 socket, CPU per create"
    figures = {line.split()[0]: line for line in lines[1:]}
    assert figures["equal"].endswith(" us") and figures["bare"].endswith(" us")
    assert figures["DCRF"].endswith(" us") == HAS_DCRF
    assert figures["sample"].endswith(" us") == (DEFAULT is not None)


# python -m bench.peer.costs ------------------------------------------------------


@pytest.fixture
def peer_registry(settings):
    """The streams bench/settings.py serves: the project's and `peer-comments`."""
    settings.REALTIME_API_REGISTRY = "bench.peer.streams.registry"

{%- if cookiecutter.include_sample_app == "y" %}


def test_costs_split_the_sample_view_into_its_parts(peer_registry, db):
    """Each part is timed on both streams; the sample's topic lookup (its
    visibility query) and can_edit are parts the plain view does not have."""
    from bench.peer import costs

    results = costs.measure(3)
    for stream in ("sample", "equal"):
        for part in ("validate", "topic", "render", "event"):
            assert results[stream][part] > 0, (stream, part)
    assert results["sample"]["can_edit"] > 0
    assert results["equal"]["can_edit"] is None
{%- endif %}


def test_costs_say_they_need_the_sample_app(peer_registry, monkeypatch):
    """Without the sample app there is nothing to split: the command says so."""
    from bench.peer import costs

    monkeypatch.setattr(costs, "DEFAULT", None)
    with pytest.raises(SystemExit) as stopped:
        costs.main(["--repeat", "1"])
    assert "include_sample_app=y" in str(stopped.value.code)
