"""Test settings: what pytest uses (DJANGO_SETTINGS_MODULE in pyproject.toml).

The environment still chooses the engines: set DATABASE_URL and REDIS_URL to
run the same tests against PostgreSQL and Redis.
"""

from .dev import *  # noqa: F403
from .dev import BASE_DIR, DATABASES

# Hashing passwords the slow, safe way makes every login in a test cost
# hundreds of milliseconds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Live-server tests run daphne in another process, which must open the same
# test database: on SQLite that means a file, not Django's in-memory default.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
