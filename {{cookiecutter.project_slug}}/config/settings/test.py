"""Test settings: what pytest uses (DJANGO_SETTINGS_MODULE in pyproject.toml).

The environment still chooses the engines: set DATABASE_URL and REDIS_URL to
run the same tests against PostgreSQL and Redis.
"""

import os
import secrets

from .dev import *  # noqa: F403
from .dev import BASE_DIR, DATABASES, INSTALLED_APPS
from .environment import channel_layers_from_env, env, redis_prefix

# Test runs that share a Redis server (two checkouts, CI jobs on one host)
# must not hear each other's events: one prefix per run, which the servers
# and shells the tests start inherit from the environment. pytest-xdist's
# workers (PYTEST_XDIST_WORKER) run at once, so each gets its own.
if not env.str("REDIS_PREFIX", default=""):
    os.environ["REDIS_PREFIX"] = f"test-{secrets.token_hex(4)}"
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and not os.environ["REDIS_PREFIX"].endswith(f"-{_worker}"):
    os.environ["REDIS_PREFIX"] += f"-{_worker}"
CHANNEL_LAYERS = channel_layers_from_env(env)
REALTIME_API_REDIS_PREFIX = redis_prefix(env)

# Hashing passwords the slow, safe way makes every login in a test cost
# hundreds of milliseconds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Live-server tests run daphne in another process, which must open the same
# test database: on SQLite that means a file, not Django's in-memory default.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

# The framework's own tests (tests/realtime/) serve a test-only app, and the
# bench's tests the equal-work comparison's (bench/peer/): their models exist
# in the test database only, and dev's migrations ignore them.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.realtime.testapp", "bench.peer"]

# With DEBUG off (some tests turn it off) WhiteNoise serves only what
# collectstatic wrote to STATIC_ROOT, which the tests do not fill: serve the
# apps' own static folders, as in development.
WHITENOISE_AUTOREFRESH = True

# Tests open hundreds of sockets from 127.0.0.1 within seconds: the admission
# of handshakes (realtime_api/limits/handshake_rate.py) is lifted unless the
# environment sets it, as the tests of admission do for the servers they start.
REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS = env.float(
    "REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS", default=0
)
REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT = env.int(
    "REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT", default=0
)
