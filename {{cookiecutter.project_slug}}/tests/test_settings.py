"""The settings: engines chosen from the environment, production refusing
to start without its secrets, and the real Redis layer delivering messages."""

import os
import re
import subprocess
import sys
import uuid

import environ
import pytest
from channels_redis.utils import create_pool
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from django.db import connection
from django.utils.module_loading import import_string

from config.settings.environment import (
    BASE_DIR,
    channel_layers_from_env,
    database_from_env,
)

ENGINE_VARIABLES = [
    "DATABASE_URL",
    "DATABASE_POOL",
    "DATABASE_POOL_MIN_SIZE",
    "DATABASE_POOL_MAX_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "CONN_MAX_AGE",
    "REDIS_URL",
    "REDIS_CHANNEL_LAYER",
    "REDIS_MAX_CONNECTIONS",
    "REDIS_CHANNEL_CAPACITY",
    "REDIS_CHANNEL_EXPIRY",
    "REDIS_GROUP_EXPIRY",
    "REDIS_PREFIX",
]


@pytest.fixture
def clean_env(monkeypatch):
    """An environment with none of the engine variables set."""
    for variable in ENGINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


# --- Channel layer --------------------------------------------------------------------


def test_channel_layer_in_memory_without_redis_url(clean_env):
    """Without REDIS_URL the project runs on the in-memory channel layer."""
    layers = channel_layers_from_env(environ.Env())
    assert layers["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_channel_layer_pubsub_by_default_with_redis_url(clean_env):
    """REDIS_URL alone selects the Redis pub/sub layer with a raised pool."""
    clean_env.setenv("REDIS_URL", "redis://redis.example:6379/2")
    layer = channel_layers_from_env(environ.Env())["default"]
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    [host] = layer["CONFIG"]["hosts"]
    assert host["address"] == "redis://redis.example:6379/2"
    assert host["max_connections"] == 1000


def test_redis_prefix_keeps_projects_apart(clean_env):
    """Channels and event-log keys are prefixed: REDIS_PREFIX, the slug by default."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    layer = channel_layers_from_env(environ.Env())["default"]
    assert layer["CONFIG"]["prefix"] == "{{ cookiecutter.project_slug[:20] }}"
    clean_env.setenv("REDIS_PREFIX", "other")
    layer = channel_layers_from_env(environ.Env())["default"]
    assert layer["CONFIG"]["prefix"] == "other"
    assert settings.REALTIME_API_REDIS_PREFIX.startswith("test-")  # one per run


def test_channel_layer_core_with_defaults(clean_env):
    """REDIS_CHANNEL_LAYER=core selects RedisChannelLayer with sane limits."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("REDIS_CHANNEL_LAYER", "core")
    layer = channel_layers_from_env(environ.Env())["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    config = dict(layer["CONFIG"])
    [host] = config.pop("hosts")
    assert config == {
        "prefix": "{{ cookiecutter.project_slug[:20] }}",
        "capacity": 10_000,
        "expiry": 60,
        "group_expiry": 86400,
    }
    assert host["address"] == "redis://127.0.0.1:6379/0"
    assert host["max_connections"] == 1000


def test_channel_layer_core_limits_from_env(clean_env):
    """Capacity, expiry, group expiry and pool size come from the environment."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("REDIS_CHANNEL_LAYER", "core")
    clean_env.setenv("REDIS_MAX_CONNECTIONS", "5000")
    clean_env.setenv("REDIS_CHANNEL_CAPACITY", "10")
    clean_env.setenv("REDIS_CHANNEL_EXPIRY", "5")
    clean_env.setenv("REDIS_GROUP_EXPIRY", "600")
    config = channel_layers_from_env(environ.Env())["default"]["CONFIG"]
    assert config["hosts"][0]["max_connections"] == 5000
    assert (config["capacity"], config["expiry"], config["group_expiry"]) == (
        10,
        5,
        600,
    )


def test_channel_layer_unknown_kind_is_refused(clean_env):
    """A typo in REDIS_CHANNEL_LAYER fails loudly, naming the variable."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("REDIS_CHANNEL_LAYER", "fast")
    with pytest.raises(ImproperlyConfigured, match="REDIS_CHANNEL_LAYER"):
        channel_layers_from_env(environ.Env())


def test_redis_host_config_raises_the_redis_py_pool(clean_env):
    """channels-redis hands max_connections to redis-py's connection pool."""
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    for kind in ("pubsub", "core"):
        clean_env.setenv("REDIS_CHANNEL_LAYER", kind)
        host = channel_layers_from_env(environ.Env())["default"]["CONFIG"]["hosts"][0]
        assert create_pool(host).max_connections == 1000


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["pubsub", "core"])
async def test_redis_layer_delivers_a_group_message(monkeypatch, kind):
    """A group message sent through the real Redis layer reaches its member."""
    monkeypatch.setenv("REDIS_CHANNEL_LAYER", kind)
    # A private prefix: the test never touches another process's keys.
    monkeypatch.setenv("REDIS_PREFIX", f"test-{uuid.uuid4().hex}")
    config = channel_layers_from_env(environ.Env())["default"]
    layer = import_string(config["BACKEND"])(**config["CONFIG"])
    try:
        channel = await layer.new_channel()
        await layer.group_add("settings-test", channel)
        await layer.group_send("settings-test", {"type": "hello", "text": "hi"})
        assert await layer.receive(channel) == {"type": "hello", "text": "hi"}
        await layer.group_discard("settings-test", channel)
    finally:
        await layer.flush()


# --- Database -------------------------------------------------------------------------


def test_database_sqlite_by_default(clean_env):
    """Without DATABASE_URL: SQLite in the project folder, WAL, persistent."""
    database = database_from_env(environ.Env())
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    assert "PRAGMA journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] > 0


def test_database_postgres_from_database_url(clean_env):
    """A postgres:// DATABASE_URL selects PostgreSQL with a connection pool."""
    clean_env.setenv("DATABASE_URL", "postgres://app:s3cret@db.example:5433/appdb")
    database = database_from_env(environ.Env())
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        "appdb",
        "app",
        "s3cret",
    )
    assert (database["HOST"], database["PORT"]) == ("db.example", 5433)
    # Django refuses persistent connections together with its pool.
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10}
    assert "init_command" not in database["OPTIONS"]


def test_database_postgres_pool_size_from_env(clean_env):
    """DATABASE_POOL_* size the pool of each server process."""
    clean_env.setenv("DATABASE_URL", "postgres://app@db.example/appdb")
    clean_env.setenv("DATABASE_POOL_MIN_SIZE", "0")
    clean_env.setenv("DATABASE_POOL_MAX_SIZE", "50")
    clean_env.setenv("DATABASE_POOL_TIMEOUT", "3")
    pool = database_from_env(environ.Env())["OPTIONS"]["pool"]
    assert pool == {"min_size": 0, "max_size": 50, "timeout": 3}


def test_database_postgres_without_pool(clean_env):
    """DATABASE_POOL=false falls back to persistent connections (CONN_MAX_AGE)."""
    clean_env.setenv("DATABASE_URL", "postgres://app@db.example/appdb")
    clean_env.setenv("DATABASE_POOL", "false")
    clean_env.setenv("CONN_MAX_AGE", "300")
    database = database_from_env(environ.Env())
    assert database["CONN_MAX_AGE"] == 300
    assert "pool" not in database["OPTIONS"]


# pytest-django names a worker's database when a test first needs one: this
# test may be the first its worker runs.
@pytest.mark.usefixtures("django_db_modify_db_settings")
def test_test_database_is_a_file_on_sqlite():
    """On SQLite the test database is a file that a live server can open.

    pytest-xdist's workers each get their own (pytest-django adds `_gw0`...).
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the test database is not SQLite")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    expected = str(BASE_DIR / "test_db.sqlite3") + (f"_{worker}" if worker else "")
    assert database["TEST"]["NAME"] == expected


@pytest.mark.django_db
def test_sqlite_connection_uses_wal():
    """The SQLite init_command really switches the database to WAL."""
    if connection.vendor != "sqlite":
        pytest.skip("the database is not SQLite")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_connection_uses_psycopg3():
    """DATABASE_URL=postgres://... connects through psycopg 3 and its pool."""
    assert connection.vendor == "postgresql"
    connection.ensure_connection()
    assert type(connection.connection).__module__.startswith("psycopg")
    if connection.settings_dict["OPTIONS"].get("pool"):
        assert connection.pool is not None


# --- Core settings --------------------------------------------------------------------


def test_daphne_is_the_first_app():
    """daphne comes first, so `runserver` serves WebSockets too."""
    assert settings.INSTALLED_APPS[0] == "daphne"
    assert settings.ASGI_APPLICATION == "config.asgi.application"


def test_realtime_defaults():
    """The WebSocket endpoint is /ws/ and frames are capped at 64 KiB."""
    assert settings.REALTIME_API_PATH == "ws/"
    assert settings.REALTIME_API_MAX_FRAME_BYTES == 64 * 1024


def test_asgi_application_routes_http_and_websocket():
    """config.asgi serves HTTP through Django and WebSockets through Channels."""
    from config.asgi import application

    assert set(application.application_mapping) == {"http", "websocket"}


def test_env_example_documents_every_variable():
    """.env.example names every environment variable the settings read."""
    settings_dir = BASE_DIR / "config" / "settings"
    source = "\n".join(path.read_text() for path in settings_dir.glob("*.py"))
    reads = r"\b(?:env\.\w+\(|secret_from_env\(\s*env,)\s*\"([A-Z][A-Z0-9_]+)\""
    variables = set(re.findall(reads, source))
    assert "DJANGO_SECRET_KEY" in variables
    documented = (BASE_DIR / ".env.example").read_text()
    assert sorted(v for v in variables if v not in documented) == []


# --- Production settings (in a fresh process) -----------------------------------------


def run_manage(*args, **variables):
    """Run manage.py in a new process with production settings and no .env."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_ENV_FILE="",  # the generated .env must not fill in the secrets
        **variables,
    )
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


@pytest.mark.live
def test_production_refuses_to_start_without_secret_key():
    """Production settings fail with a message naming DJANGO_SECRET_KEY."""
    result = run_manage("check", DJANGO_ALLOWED_HOSTS="api.example.com")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.live
def test_a_secret_key_starting_with_a_dollar_is_read_as_is():
    """A "$" first (Django's keys can have one) is not a reference to a variable."""
    key = "$" + get_random_secret_key()[1:]
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        DJANGO_SECRET_KEY=key,
        DJANGO_ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == key


@pytest.mark.live
def test_production_refuses_to_start_without_allowed_hosts():
    """Production settings fail with a message naming DJANGO_ALLOWED_HOSTS."""
    result = run_manage("check", DJANGO_SECRET_KEY=get_random_secret_key())
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


@pytest.mark.live
def test_production_passes_check_deploy():
    """With its required variables (and REDIS_URL), production passes the checks."""
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=get_random_secret_key(),
        DJANGO_ALLOWED_HOSTS="api.example.com",
        REDIS_URL="redis://127.0.0.1:6379/0",  # Not connected to by the checks.
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.live
def test_production_check_deploy_refuses_a_process_local_layer():
    """No REDIS_URL: `check --deploy` is an error naming it (realtime_api.E004),
    even at its default fail level, and plain `check` still passes."""
    variables = {
        "DJANGO_SECRET_KEY": get_random_secret_key(),
        "DJANGO_ALLOWED_HOSTS": "api.example.com",
        "REDIS_URL": "",
    }
    result = run_manage("check", "--deploy", **variables)
    assert result.returncode != 0
    assert "realtime_api.E004" in result.stderr
    assert "REDIS_URL is not set" in result.stderr
    assert "REALTIME_API_SINGLE_PROCESS" in result.stderr
    assert run_manage("check", **variables).returncode == 0


@pytest.mark.live
def test_a_single_process_deployment_may_run_without_redis():
    """REALTIME_API_SINGLE_PROCESS=true says one process: no REDIS_URL is fine."""
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=get_random_secret_key(),
        DJANGO_ALLOWED_HOSTS="api.example.com",
        REDIS_URL="",
        REALTIME_API_SINGLE_PROCESS="true",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
