"""pytest fixtures for realtime tests: `user`, `admin` and live daphne servers.

Enable with `pytest_plugins = ["realtime_api.testing.pytest_plugin"]` in conftest.py.

It also checks, at the end of the run, every frame the test helpers sent and
received against the project's AsyncAPI document (realtime_api/testing/frame_check.py):
a frame that does not match fails the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

import pytest

from realtime_api import testing
from realtime_api.testing.frame_check import FrameChecker, FrameRecorder, Report
from realtime_api.testing.live_server import DaphneServer

frame_report_key = pytest.StashKey[Report]()


def pytest_sessionstart(session: pytest.Session) -> None:
    testing.recorder = FrameRecorder()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    recorder, testing.recorder = testing.recorder, None
    if recorder is not None and any(t.frames for t in recorder.transcripts):
        from realtime_api.schema.asyncapi import build_document

        report = FrameChecker(build_document()).check(recorder.transcripts)
        add_report(session.config, report)
        worker_output = getattr(session.config, "workeroutput", None)
        if worker_output is not None:
            # A pytest-xdist worker: its controller prints and judges the sum.
            worker_output["frame_report"] = asdict(report)
    total = session.config.stash.get(frame_report_key, None)
    if total and total.problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Under pytest-xdist: add a worker's frame report to the run's."""
    frames = getattr(node, "workeroutput", {}).get("frame_report")
    if frames is not None:
        add_report(node.config, Report(**frames))


def add_report(config: pytest.Config, report: Report) -> None:
    total = config.stash.setdefault(frame_report_key, Report())
    total.checked += report.checked
    total.undescribed += report.undescribed
    total.problems.extend(report.problems)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    report = config.stash.get(frame_report_key, None)
    if report is None:
        return
    terminalreporter.write_line(
        f"AsyncAPI: {report.checked} frames checked against the document "
        f"({report.undescribed} of test-only streams not described)."
    )
    if report.problems:
        terminalreporter.write_sep(
            "=", "frames that do not match the AsyncAPI document"
        )
        for problem in report.problems[:20]:
            terminalreporter.write_line(problem)
        if len(report.problems) > 20:
            terminalreporter.write_line(f"... and {len(report.problems) - 20} more.")


@pytest.fixture
def user(db: None, django_user_model: Any) -> Any:
    """A saved user who can log in with the password "pw"."""
    return django_user_model.objects.create_user(username="user", password="pw")


@pytest.fixture
def admin(db: None, django_user_model: Any) -> Any:
    """A saved superuser who can log in with the password "pw"."""
    return django_user_model.objects.create_superuser(
        username="admin", password="pw", email="admin@example.com"
    )


@pytest.fixture
def daphne_servers(
    transactional_db: None,
) -> Iterator[Callable[..., DaphneServer]]:
    """Start real daphne servers on the test database: `start(env=None)`.

    Each call starts one more process (they share the channel layer when
    REDIS_URL is set); all are stopped after the test.
    """
    servers: list[DaphneServer] = []

    def start(env: Mapping[str, str] | None = None) -> DaphneServer:
        server = DaphneServer(env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne_server(daphne_servers: Callable[..., DaphneServer]) -> DaphneServer:
    """One real daphne server on the test database; `.url` is ws://HOST:PORT."""
    return daphne_servers()
