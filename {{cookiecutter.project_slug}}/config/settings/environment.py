"""The environment: the one place where settings read environment variables.

Every variable is documented in ``.env.example``. A ``.env`` file in the
project root (written by the project generator with a fresh
``DJANGO_SECRET_KEY``) is read when it exists; real environment variables win
over it. ``DJANGO_ENV_FILE`` names another file, or an empty value reads none.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime_api.ops.redis_connection import channel_layer_host, parse_sentinel_url

# The project root: the folder that holds manage.py.
BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)


def secret_from_env(env: environ.Env, name: str, default: str | None = None) -> str:
    """Return a secret exactly as set.

    django-environ reads a value that starts with "$" as the name of another
    variable, and keys made by Django's get_random_secret_key() can start
    with "$"; a secret is never such a reference.
    """
    value = env.ENVIRON.get(name, "")
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable")
    return default


def database_from_env(env: environ.Env) -> dict:
    """Return ``DATABASES["default"]`` for ``DATABASE_URL`` (SQLite without it).

    Connections are reused: opening one per ORM call from a WebSocket
    consumer's thread would cost more than the query. How depends on the
    engine:

    - PostgreSQL: psycopg's connection pool, as Django recommends under ASGI.
      Persistent connections (CONN_MAX_AGE) are not reused across ASGI HTTP
      requests, each of which runs in a thread of its own, so they pile up on
      the server; the pool hands them back. ``DATABASE_POOL=false`` switches
      back to CONN_MAX_AGE.
    - SQLite: persistent connections (no pool exists). The connections that
      HTTP request threads leave behind are only file handles, which the
      garbage collector reclaims.

    https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
    https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
    """
    database = env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    database["CONN_HEALTH_CHECKS"] = True
    database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    options = database.setdefault("OPTIONS", {})
    if database["ENGINE"] == "django.db.backends.postgresql":
        if env.bool("DATABASE_POOL", default=True):
            # Pool connections are checked out per use and returned on close.
            database["CONN_MAX_AGE"] = 0
            options["pool"] = {
                "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
                # Seconds a request waits for a free connection before failing.
                "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
            }
    elif database["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers work while one writer writes; IMMEDIATE transactions
        # take the write lock up front, so concurrent writers wait (up to
        # `timeout` seconds) instead of failing with "database is locked".
        # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-init-command
        options.update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
    return database


CHANNEL_LAYER_KINDS = ("pubsub", "core")


def redis_prefix(env: environ.Env) -> str:
    """Return the prefix of this project's keys and channels in Redis.

    Two projects (or two test runs) that share a Redis server must not hear
    each other's events: each uses its own prefix (by default the start of
    the project's name).
    """
    return env.str("REDIS_PREFIX", default="{{ cookiecutter.project_slug[:20] }}")


def channel_layers_from_env(env: environ.Env) -> dict:
    """Return ``CHANNEL_LAYERS``: in-memory, or Redis when ``REDIS_URL`` is set.

    The in-memory layer works inside one process only (``runserver``, tests).
    Run several server processes with Redis: ``REDIS_CHANNEL_LAYER=pubsub``
    (the default; fans out about 30% faster here) or ``core`` (the classic
    layer, with per-channel queues, capacity and expiry).
    https://channels.readthedocs.io/en/stable/topics/channel_layers.html
    """
    redis_url = env.str("REDIS_URL", default="")
    if not redis_url:
        return {
            "default": {
                "BACKEND": "channels.layers.InMemoryChannelLayer",
                # Each process receives every event of its sockets' groups on
                # one channel (realtime_api/delivery/hub.py): let it queue bursts.
                "CONFIG": {"capacity": 10_000},
            }
        }

    kind = env.str("REDIS_CHANNEL_LAYER", default="pubsub").strip().lower()
    if kind not in CHANNEL_LAYER_KINDS:
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_LAYER must be one of {', '.join(CHANNEL_LAYER_KINDS)}, "
            f"not {kind!r}."
        )
    try:
        parse_sentinel_url(redis_url)
    except ValueError as error:
        raise ImproperlyConfigured(f"REDIS_URL: {error}") from None
    # The host dict is passed to redis-py's ConnectionPool.from_url() (or its
    # SentinelConnectionPool for a redis+sentinel:// URL). Its pool
    # holds 100 connections by default, and the core layer fails past about 99
    # concurrent subscribers (MaxConnectionsError, sockets closed with 1011).
    host = channel_layer_host(
        redis_url,
        max_connections=env.int("REDIS_MAX_CONNECTIONS", default=1000),
        # After Redis restarts, the first command on a pooled connection fails
        # ("Connection closed by server"): retry it on a fresh connection, so
        # the first event after an outage is not lost.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        # An unreachable host (not a refused port) must fail in seconds, not
        # after the system's minutes: the writes' events wait for it.
        socket_connect_timeout=2,
    )
    if kind == "pubsub":
        return {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [host], "prefix": redis_prefix(env)},
            }
        }
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [host],
                "prefix": redis_prefix(env),
                # Messages a channel may queue before sends to it fail.
                # One channel per process receives all its sockets' events.
                "capacity": env.int("REDIS_CHANNEL_CAPACITY", default=10_000),
                # Seconds an undelivered message lives.
                "expiry": env.int("REDIS_CHANNEL_EXPIRY", default=60),
                # Seconds a channel stays in a group without re-joining it.
                "group_expiry": env.int("REDIS_GROUP_EXPIRY", default=86400),
            },
        }
    }
