"""Fixtures and markers shared by every test of the project.

Tests marked `redis` or `postgres` need a real server. Without one (no
REDIS_URL; no postgres:// DATABASE_URL) they are skipped on a developer
machine, and they fail when the CI environment variable is set, so that a
misconfigured CI job cannot pass by skipping them.
"""

import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management.utils import get_random_secret_key

from realtime_api.testing.live_server import RedisServer

from . import sizes
from .flush import keep_permissions

# Fixtures of the realtime app: `user` and `admin`.
pytest_plugins = ["realtime_api.testing.pytest_plugin"]

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


def pytest_addoption(parser):
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the long runs (tests marked slow) and the randomized tests "
        "at full size, as CI does (a CI variable implies it)",
    )


def pytest_configure(config):
    sizes.LONG = config.getoption("long") or running_in_ci()


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): two test processes per core.

    Most tests wait more than they compute (for a frame that must not come,
    a token to expire, a server to start): a second process per core fills
    those waits.
    """
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may use
        return 2 * len(os.sched_getaffinity(0))
    return 2 * (os.cpu_count() or 1)


def pytest_runtest_setup(item):
    """Skip (or, in CI, fail) a test whose marked service is not configured."""
    if item.get_closest_marker("slow") is not None and not sizes.LONG:
        pytest.skip("a long run: pytest --long runs it (CI does)")
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


# Fixtures that start another process (a server, Redis, a browser, a
# management command): a test that uses one is marked `live`.
LIVE_FIXTURES = {
    "daphne_servers",
    "testapp_servers",
    "each_server",
    "spare_redis",
    "collected_static",
    "demo_server",
    "chromium",
}


def pytest_collection_modifyitems(items):
    """Mark `browser` the tests of test_browser*.py, `live` those that start processes.

    `pytest -m "not live"` is the in-process tier: the tests that drive the
    ASGI application, views and models in the test process only. The tests
    of test_live_*.py, tests/bench/ and test_browser*.py are all live.
    """
    for item in items:
        if item.path.name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
        live_module = item.path.name.startswith(("test_live_", "test_browser"))
        live_module = live_module or item.path.parent.name == "bench"
        if live_module or LIVE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session", autouse=True)
def flushes_keep_permissions():
    """Transactional tests' flushes keep content types and permissions (flush.py)."""
    with pytest.MonkeyPatch.context() as patch:
        keep_permissions(patch)
        yield


@pytest.fixture(autouse=True)
def in_process_unless_live(request, monkeypatch):
    """A test not marked `live` may not start a process: it fails, naming the marker.

    So `pytest -m "not live"` stays the in-process tier as tests are added.
    """
    if request.node.get_closest_marker("live") is not None:
        return
    test = request.node.nodeid

    def refuse(self, *args, **kwargs):
        raise AssertionError(
            f"{test} starts a process: mark it live (@pytest.mark.live), "
            "or give it a fixture that does (tests/conftest.py, LIVE_FIXTURES)"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def require_program(name, why):
    """Skip (or, in CI, fail) unless the program is installed; return its path."""
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if path is None:
        reason = f"needs the {name} program {why}"
        if running_in_ci():
            pytest.fail(f"{reason} (CI is set, so this is a failure)", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def spare_redis():
    """A redis-server of the test's own, on a spare port: `.stop()`, `.start()`."""
    require_program("redis-server", "to stop and restart a real Redis")
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


def production_env(**variables):
    """The environment of a process on the production settings (no .env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_ENV_FILE="",
        DJANGO_SECRET_KEY=get_random_secret_key(),
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
    )
    env.update(variables)
    return env


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """STATIC_ROOT as `collectstatic` fills it with the production settings."""
    root = tmp_path_factory.mktemp("static")
    manage = str(settings.BASE_DIR / "manage.py")
    command = [sys.executable, manage, "collectstatic", "--no-input", "-v", "0"]
    env = production_env(DJANGO_STATIC_ROOT=str(root))
    subprocess.run(command, env=env, check=True)
    return root
