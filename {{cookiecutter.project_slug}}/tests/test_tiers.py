"""The suite's tiers: in process unless `live`, long runs with --long (conftest.py)."""

import subprocess
import sys

import pytest

from . import sizes


def test_a_test_not_marked_live_cannot_start_a_process():
    with pytest.raises(AssertionError, match="mark it live"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.live
def test_a_live_test_may_start_one():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_a_size_is_quick_full_with_long_or_the_variables(monkeypatch):
    monkeypatch.delenv("REALTIME_TEST_SIZE", raising=False)
    monkeypatch.setattr(sizes, "LONG", False)
    assert sizes.size("REALTIME_TEST_SIZE", quick=8, full=300) == 8
    monkeypatch.setattr(sizes, "LONG", True)
    assert sizes.size("REALTIME_TEST_SIZE", quick=8, full=300) == 300
    monkeypatch.setenv("REALTIME_TEST_SIZE", "5")
    assert sizes.size("REALTIME_TEST_SIZE", quick=8, full=300) == 5


@pytest.mark.slow
def test_a_slow_test_runs_only_in_a_long_run():
    """Skipped at setup without --long or CI, so it only ever runs with LONG set."""
    assert sizes.LONG
