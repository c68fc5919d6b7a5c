"""`python -m bench`: its command line, and smoke runs against real daphne servers.

Small sizes only: this proves the tool works end to end, not how fast the
server is (bench/BENCHMARKS.md says how to run the full benchmark).
"""

import ast
import json
import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY, get_user_model

from bench import cli, sessions
from bench.scenario import DEFAULT
from realtime_api.testing.live_server import DaphneServer, database_url

PROJECT = Path(__file__).resolve().parents[2]

SMALL = ["--requests", "6", "--sockets", "2", "--subscribers", "4", "--events", "3"]
SMALL += ["--idle", "8", "--signals", "3", "--timeout", "30", "--no-progress"]

# A scenario on the test-only streams of logentries.py, which every project
# has (the sample app's or not).
LOG_ENTRIES = [
    "--stream",
    "logentries",
    "--payload",
    '{"user": "{parent}", "object_repr": "bench {i}", "action_flag": 1}',
    "--subscribe",
    '{"user": "{parent}"}',
    "--parent-stream",
    "users",
    "--parent-payload",
    '{"username": "bench-parent"}',
    "--model",
    "admin.LogEntry",
]


def python_m_bench(*args):
    """Run `python -m bench` from the project folder, as its README says."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("REALTIME_BENCH_MODEL", None)
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_bench(*args):
    """Run the command line in this process (on the test database)."""
    out = StringIO()
    status = cli.main(list(args), stdout=out)
    return status, out.getvalue()


@pytest.fixture
def needs_default_scenario():
    """The default scenario creates the sample app's comments in a topic."""
    if DEFAULT is None:
        pytest.skip("no default scenario without the sample app")
    try:
        apps.get_model(DEFAULT.model)
    except LookupError:
        pytest.skip(f"{DEFAULT.model} is not installed")


@pytest.fixture
def bench_server(transactional_db):
    """daphne serving the project plus the reference endpoint (bench/asgi.py)."""
    server = DaphneServer(application="bench.asgi:application")
    yield server.start()
    server.stop()


@pytest.fixture
def log_entries_server(transactional_db):
    """bench_server, plus the test-only streams of logentries.py."""
    server = DaphneServer(application="tests.bench.logentries_asgi:application")
    yield server.start()
    server.stop()


# The tool stays out of the application ---------------------------------------


def test_the_application_never_imports_the_bench():
    """No module the project installs imports `bench`: it is a tool."""
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    installed = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not [pattern for pattern in installed if fnmatch("bench", pattern)]
    importers = []
    for pattern in installed:
        for path in PROJECT.glob(f"{pattern.rstrip('*')}/**/*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                if any(name.split(".")[0] == "bench" for name in names):
                    importers.append(str(path.relative_to(PROJECT)))
    assert not importers


# The command line --------------------------------------------------------------


def test_help_runs_from_the_project_folder():
    """`python -m bench --help` lists the options, W2u and --model among them."""
    result = python_m_bench("--help")
    assert result.returncode == 0, result.stderr
    assert "--model APP_LABEL.MODEL" in result.stdout
    assert "w2u" in result.stdout


def test_without_a_model_the_error_names_the_option():
    """Another stream and no model (no --model, no REALTIME_BENCH_MODEL): a
    usage error naming --model, before anything is written or loaded."""
    result = python_m_bench(
        "--stream", "things", "--payload", '{"name": "x"}', "--subscribe", "{}"
    )
    assert result.returncode == 2
    assert "--model APP_LABEL.MODEL" in result.stderr
    assert "REALTIME_BENCH_MODEL" in result.stderr


def test_without_a_stream_the_error_names_it(monkeypatch, capsys):
    """With no default scenario (no sample app), --stream is asked for."""
    monkeypatch.setattr(cli, "DEFAULT", None)
    with pytest.raises(SystemExit) as stopped:
        run_bench()
    assert stopped.value.code == 2
    assert "--stream NAME --payload JSON" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["environment", "setting"])
def test_the_model_falls_back_to_realtime_bench_model(where, monkeypatch, settings):
    """The REALTIME_BENCH_MODEL setting or variable names the model when
    --model does not."""
    if where == "setting":
        settings.REALTIME_BENCH_MODEL = "auth.Group"
    else:
        monkeypatch.setenv("REALTIME_BENCH_MODEL", "auth.Group")
    args = cli.build_parser().parse_args(["--stream", "groups", "--payload", "{}"])
    args.workloads = "w1"
    assert cli.scenario_from(args, cli.options_from(args)).model == "auth.Group"


def test_an_unknown_model_is_refused(capsys):
    """A --model that names no installed model is a usage error."""
    with pytest.raises(SystemExit):
        run_bench(*LOG_ENTRIES, "--model", "nosuchapp.Thing")
    assert "--model nosuchapp.Thing" in capsys.readouterr().err


def test_a_remote_server_needs_allow_remote(capsys):
    """The load tool stays on this machine unless told otherwise."""
    with pytest.raises(SystemExit):
        run_bench(*LOG_ENTRIES, "--url", "ws://192.0.2.1/ws/")
    assert "--allow-remote" in capsys.readouterr().err


def test_w2u_sessions_are_as_many_users(db, settings):
    """W2u's sessions are logged in as different users, kept between runs."""

    def users(keys):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        return [store(key)[SESSION_KEY] for key in keys]

    first, again = sessions.session_keys(3), sessions.session_keys(3)
    assert len(set(users(first))) == 3
    assert users(again) == users(first)
    assert set(again).isdisjoint(first)  # A fresh session each run.


# Smoke runs ----------------------------------------------------------------------


def test_in_process_w1_measures_the_app_and_the_reference(
    needs_default_scenario, transactional_db
):
    """`python -m bench.inprocess`: CPU per create of both, and their ratio."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
    }
    command = [sys.executable, "-m", "bench.inprocess", "--creates", "6"]
    result = subprocess.run(
        [*command, "--sockets", "2", "--rounds", "1"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "W1 in process: 6 creates over 2 socket(s)", lines
    for line, name in zip(lines[1:3], ("reference", "app"), strict=True):
        assert line.split()[0] == name and "CPU per create" in line, lines
    assert lines[3].startswith("  CPU per create, app / reference: "), lines


@pytest.mark.slow
def test_smoke_run_measures_every_workload_against_the_reference(
    needs_default_scenario, bench_server, tmp_path
):
    """Every workload runs on both endpoints; no event is missing; ratios are given."""
    path = tmp_path / "bench.json"
    status, out = run_bench(
        "--url",
        f"{bench_server.url}/ws/",
        "--server-pid",
        str(bench_server.process.pid),
        "--json",
        str(path),
        *SMALL,
    )
    assert status == 0
    report = json.loads(path.read_text())
    rows = {(row["workload"], row["endpoint"]): row for row in report["rows"]}
    for workload in (
        "W1 create, 1 socket",
        "W1 create, 2 sockets",
        "W2 fan-out, 4 subscribers",
        "W2u fan-out, 4 subscribers, 4 users",
        "W3 idle, 8 sockets",
    ):
        assert {(workload, "app"), (workload, "reference")} <= set(rows), rows
    assert ("HTTP create, keep-alive", "http") in rows
    for endpoint in ("app", "reference"):
        assert rows[("W2 fan-out, 4 subscribers", endpoint)]["missing"] == 0
        assert rows[("W2u fan-out, 4 subscribers, 4 users", endpoint)]["missing"] == 0
        assert rows[("W1 create, 1 socket", endpoint)]["rate"] > 0
        # With --server-pid: what a create costs the server, in CPU time.
        assert rows[("W1 create, 2 sockets", endpoint)]["cpu_us"] > 0
    # Live queries are the app's own: measured on the app, compared with W2.
    assert rows[("W4 watch, 4 watchers", "app")]["missing"] == 0
    # So is presence: 4 users join at once, then signals reach the other 3.
    storm = rows[("W5 presence join storm, 4 users", "app")]
    assert storm["missing"] == 0 and storm["storm_ms"] > 0
    signals = rows[("W5 presence signal, 3 receivers", "app")]
    assert (signals["count"], signals["missing"]) == (3 * 3, 0)
    ratios = [ratio["name"] for ratio in report["ratios"]]
    assert len(ratios) == 9, ratios
    assert "W1 create, 1 socket: app / reference (server CPU per create)" in ratios
    assert "W2 fan-out, 4 subscribers of one user: app / reference (events/s)" in ratios
    assert "W2u fan-out, 4 subscribers, 4 users: app / reference (events/s)" in ratios
    assert report["skipped"] == {}
    assert "W2u fan-out, 4 subscribers, 4 users" in out
    # W2u's sockets were as many users, each with its own session.
    names = get_user_model().objects.values_list("username", flat=True)
    assert sorted(n for n in names if n.startswith("realtime-bench-")) == [
        f"realtime-bench-{n}" for n in range(1, 5)
    ]


def test_a_paced_fan_out_keeps_to_its_rate(
    needs_default_scenario, bench_server, tmp_path
):
    """--fanout-rate spaces the creates: the events follow it, not the server."""
    path = tmp_path / "bench.json"
    status, _ = run_bench(
        "--url",
        f"{bench_server.url}/ws/",
        "--workloads",
        "w2",
        "--fanout-rate",
        "10",
        "--json",
        str(path),
        *SMALL,
    )
    assert status == 0
    rows = json.loads(path.read_text())["rows"]
    assert {row["endpoint"] for row in rows} == {"app", "reference"}
    for row in rows:
        # 3 creates at 10 a second span 0.2 s at least: 4 subscribers hear 12
        # events in that time, 60 a second at most (unpaced: hundreds).
        assert row["missing"] == 0
        assert 0 < row["rate"] <= 60, row


def test_a_fan_out_rate_below_zero_is_refused(capsys):
    """--fanout-rate is a rate: 0 (unpaced) or more."""
    with pytest.raises(SystemExit):
        run_bench(*LOG_ENTRIES, "--fanout-rate", "-1")
    assert "--fanout-rate" in capsys.readouterr().err


def test_comparison_is_skipped_when_the_server_has_no_reference(
    needs_default_scenario, daphne_server
):
    """Against config.asgi alone, the app is measured and the reference skipped."""
    status, out = run_bench(
        "--url", f"{daphne_server.url}/ws/", "--workloads", "w1", *SMALL
    )
    assert status == 0
    assert "Skipped reference" in out
    assert "bench.asgi:application" in out


def test_a_project_without_the_sample_app_benches_its_own_streams(
    log_entries_server, tmp_path
):
    """--stream, --payload, --subscribe and --model bench any model: here the
    admin's LogEntry, which every project has, on both endpoints."""
    path = tmp_path / "bench.json"
    status, _ = run_bench(
        "--url",
        f"{log_entries_server.url}/ws/",
        "--workloads",
        "w1,w2,w2u,w4",
        "--json",
        str(path),
        *LOG_ENTRIES,
        *SMALL,
    )
    assert status == 0
    report = json.loads(path.read_text())
    assert "model=admin.LogEntry" in report["reference_url"]
    rows = {(row["workload"], row["endpoint"]): row for row in report["rows"]}
    for endpoint in ("app", "reference"):
        assert rows[("W1 create, 2 sockets", endpoint)]["rate"] > 0
        assert rows[("W2u fan-out, 4 subscribers, 4 users", endpoint)]["missing"] == 0
    assert rows[("W4 watch, 4 watchers", "app")]["missing"] == 0
    assert report["skipped"] == {}
