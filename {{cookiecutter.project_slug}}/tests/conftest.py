"""Fixtures and markers shared by every test of the project.

Tests marked `redis` or `postgres` need a real server. Without one (no
REDIS_URL; no postgres:// DATABASE_URL) they are skipped on a developer
machine, and they fail when the CI environment variable is set, so that a
misconfigured CI job cannot pass by skipping them.
"""

import os

import pytest

# Fixtures of the realtime app: `user` and `admin`.
pytest_plugins = ["realtime_api.pytest_plugin"]

SERVICES = {
    "redis": (
        "REDIS_URL",
        lambda url: bool(url),
        "set REDIS_URL, e.g. redis://127.0.0.1:6379/0",
    ),
    "postgres": (
        "DATABASE_URL",
        lambda url: url.startswith(("postgres://", "postgresql://", "pgsql://")),
        "set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/app",
    ),
}


def running_in_ci():
    """True when the CI variable is set to anything but an explicit "no"."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_runtest_setup(item):
    """Skip (or, in CI, fail) a test whose marked service is not configured."""
    for marker, (variable, configured, hint) in SERVICES.items():
        if item.get_closest_marker(marker) is None:
            continue
        if configured(os.environ.get(variable, "")):
            continue
        reason = f"needs {marker}: {hint}"
        if running_in_ci():
            pytest.fail(
                f"{reason} (CI is set, so this is a failure, not a skip)",
                pytrace=False,
            )
        pytest.skip(reason)


def pytest_collection_modifyitems(items):
    """Mark the tests of test_browser*.py modules `browser` (select with -m)."""
    for item in items:
        if item.path.name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
