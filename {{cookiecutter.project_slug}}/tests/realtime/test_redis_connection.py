"""REDIS_URL read as a server or as Sentinels: the layer's and the clients' view."""

import environ
import pytest
from channels_redis.utils import create_pool
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.sentinel import SentinelConnectionPool

from config.settings.environment import channel_layers_from_env
from realtime_api.ops import redis_connection

SENTINEL_URL = "redis+sentinel://:secret@10.0.0.1:26379,[::1]:26380/cache/2"


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db():
    address = redis_connection.parse_sentinel_url(SENTINEL_URL)
    assert address.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (address.service, address.db, address.password) == ("cache", 2, "secret")
    assert redis_connection.parse_sentinel_url("redis://127.0.0.1:6379/0") is None


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service
        "redis+sentinel:///mymaster",  # no Sentinel
        "redis+sentinel://127.0.0.1/mymaster",  # no port
        "redis+sentinel://127.0.0.1:26379/mymaster/zero",
        "redis+sentinel://127.0.0.1:26379/mymaster/0/extra",
    ],
)
def test_a_malformed_sentinel_url_is_refused_at_start_up(monkeypatch, url):
    """The settings refuse it, saying how to write one, before anything connects."""
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"REDIS_URL: .*redis\+sentinel"):
        channel_layers_from_env(environ.Env())


@pytest.mark.parametrize("kind", ["pubsub", "core"])
def test_both_channel_layers_ask_sentinel_for_the_primary(monkeypatch, kind):
    monkeypatch.setenv("REDIS_URL", SENTINEL_URL)
    monkeypatch.setenv("REDIS_CHANNEL_LAYER", kind)
    host = channel_layers_from_env(environ.Env())["default"]["CONFIG"]["hosts"][0]
    pool = create_pool(host)
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "cache"
    assert pool.connection_kwargs["db"] == 2
    assert pool.max_connections == 1000


def test_the_event_log_and_presence_clients_ask_sentinel_too():
    client = redis_connection.client(SENTINEL_URL, socket_connect_timeout=2)
    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "cache"
