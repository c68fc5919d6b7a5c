"""N1, the noisy neighbours (`--workloads neighbours`), at small sizes.

Every attack runs against a real daphne, the victim is measured alone and
during each, and the server logs nothing at ERROR meanwhile.
"""

import json
from io import StringIO

import pytest

from bench import behind_nginx, neighbours
from realtime_api.testing.live_server import DaphneServer

from .test_bench import bench_server, needs_default_scenario, run_bench  # noqa: F401

# Every attack against a real daphne: a long run (pytest --long).
pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_the_neighbours_table_has_every_attack(
    bench_server,  # noqa: F811
    needs_default_scenario,  # noqa: F811
    tmp_path,
):
    path = tmp_path / "neighbours.json"
    status, out = run_bench(
        "--url",
        f"{bench_server.url}/ws/",
        "--server-pid",
        str(bench_server.process.pid),
        "--server-log",
        bench_server.log_file.name,
        "--workloads",
        "neighbours",
        "--neighbour-seconds",
        "1",
        "--toggles",
        "5",
        "--watch-rows",
        "200",
        "--no-progress",
        "--json",
        str(path),
    )
    assert status == 0, out
    phases = json.loads(path.read_text())["neighbours"]
    assert [p["name"] for p in phases] == ["alone", *neighbours.ATTACKS]
    for phase in phases:
        assert phase["request_p99_ms"] > 0 and phase["event_p99_ms"] > 0, phase
        assert phase["missing_events"] == 0, phase
        assert phase["error_lines"] == 0, (phase, bench_server.log())
    attacks = {p["name"]: p["attack"] for p in phases[1:]}
    # Every attack ran (none failed, none left with no socket to attack from).
    assert all("error" not in attack for attack in attacks.values()), attacks
    assert attacks["signal-storm"]["opened"] == neighbours.STORM_SOCKETS, attacks
    # Refused, every one: 403 while hashed, 429 once the address got too many
    # wrong (REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS).
    assert set(attacks["bad-basic"]) == {"403", "429"}, attacks
    assert set(attacks["unrouted"]) == {"404"}, attacks  # daphne says it too.
    assert attacks["basic-watches"]["watch 200"] == neighbours.BASIC_WATCHES
    assert attacks["replay"]["replay 200"] >= 1
    assert phases[-2]["rss_delta_mb"] is not None  # watch-memory
    assert all(p["server_cpu_percent"] is not None for p in phases), phases
    assert all(p["attacker_cpu_percent"] is not None for p in phases[1:]), phases
    assert "x alone" in out and "holds" in out


@pytest.mark.timeout(120)
def test_behind_nginx_the_flood_is_refused_by_nginx(
    bench_server,  # noqa: F811
    needs_default_scenario,  # noqa: F811
    tmp_path,
):
    """`python -m bench.behind_nginx`: the unrouted flood meets nginx's 429."""
    path = tmp_path / "neighbours.json"
    out = StringIO()
    status = behind_nginx.main(
        [
            *("--upstream-port", str(bench_server.port), "--"),
            *("--workloads", "neighbours", "--attacks", "unrouted"),
            *("--neighbour-seconds", "10", "--watch-rows", "10", "--no-progress"),
            *("--json", str(path)),
        ],
        stdout=out,
    )
    assert status == 0, out.getvalue()
    phases = json.loads(path.read_text())["neighbours"]
    unrouted = phases[-1]
    assert unrouted["name"] == "unrouted" and unrouted["error_lines"] is None
    # nginx's limit_req answers them itself once the address is past its
    # burst of 200. The site-wide pace (50 a second, queued) holds the flood
    # back first: at 50 a second against 20 the address's burst fills after
    # about 7 s, hence 10 s of it.
    assert unrouted["attack"].get("429", 0) > 0, unrouted
    assert "nginx workers' CPU" in out.getvalue()


def bench_daphne(**options):
    """A daphne of the test's own serving bench.asgi, stopped after the test."""
    server = DaphneServer(application="bench.asgi:application", **options)
    yield server.start()
    server.stop()


@pytest.fixture
def budgeted_server(transactional_db):
    """bench_server with the budgets per user at their defaults, as N1 runs."""
    env = {
        "REALTIME_API_MAX_SOCKETS_PER_USER": "20",
        "REALTIME_API_USER_FRAME_RATE": "100",
    }
    yield from bench_daphne(env=env)


@pytest.mark.timeout(120)
def test_the_signal_storm_has_a_user_of_its_own(
    budgeted_server,
    needs_default_scenario,  # noqa: F811
    tmp_path,
):
    """After many-sockets (whose user floods into its 4008 penalty and holds its
    socket budget), signal-storm still opens its 20 sockets."""
    path = tmp_path / "neighbours.json"
    status, out = run_bench(
        *("--url", f"{budgeted_server.url}/ws/", "--workloads", "neighbours"),
        *("--attacks", "many-sockets,signal-storm", "--neighbour-seconds", "1"),
        *("--watch-rows", "10", "--no-progress", "--json", str(path)),
    )
    assert status == 0, out
    storm = json.loads(path.read_text())["neighbours"][-1]
    assert storm["name"] == "signal-storm"
    assert storm["attack"].get("opened") == neighbours.STORM_SOCKETS, storm


@pytest.fixture
def proxied_server(transactional_db):
    """bench_server believing nginx's X-Forwarded-For, as deploy/ serves it."""
    yield from bench_daphne(options=["--proxy-headers"])


@pytest.mark.timeout(120)
def test_behind_nginx_the_replay_attack_runs(
    proxied_server,
    needs_default_scenario,  # noqa: F811
    tmp_path,
):
    """nginx says X-Forwarded-Proto: https: replay's PATCHes send an https
    Origin (--http-origin, set by behind_nginx), else CSRF refuses them."""
    path = tmp_path / "neighbours.json"
    out = StringIO()
    status = behind_nginx.main(
        [
            *("--upstream-port", str(proxied_server.port), "--"),
            *("--workloads", "neighbours", "--attacks", "replay", "--toggles", "5"),
            *("--neighbour-seconds", "1", "--watch-rows", "10", "--no-progress"),
            *("--json", str(path)),
        ],
        stdout=out,
    )
    assert status == 0, out.getvalue()
    replay = json.loads(path.read_text())["neighbours"][-1]
    assert "error" not in replay["attack"], replay
    assert replay["attack"].get("replay 200", 0) >= 1, replay
