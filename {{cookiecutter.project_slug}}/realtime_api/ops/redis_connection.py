"""Where Redis is: one URL, a plain server or a Sentinel-watched primary.

`REDIS_URL` names either a server (`redis://host:6379/0`, `rediss://...`) or
a set of Redis Sentinels and the name of the primary they watch:

    redis+sentinel://[:password@]host1:26379,host2:26379/<service>/<db>

With Sentinel, every client (the channel layer, the event log, presence)
asks the Sentinels for the current primary when it connects, so after a
failover a reconnect reaches the new primary. This module only reads the
URL and builds clients; it imports nothing of Django, so the settings can
use it too.
https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/
"""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as redis
from redis.asyncio.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelAddress:
    """A primary as Sentinel knows it: the Sentinels, its service name, a db."""

    sentinels: tuple  # ((host, port), ...)
    service: str
    db: int = 0
    password: str | None = None


def parse_sentinel_url(url):
    """A SentinelAddress for a redis+sentinel:// URL, None for any other URL.

    Raise ValueError, saying what is wrong, for a malformed Sentinel URL.
    """
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    hosts = parts.netloc.rsplit("@", 1)[-1]
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"{url!r}: each Sentinel is host:port, not {host!r}")
        sentinels.append((name.strip("[]"), int(port)))
    path = [segment for segment in parts.path.split("/") if segment]
    if not sentinels or not path or len(path) > 2:
        raise ValueError(
            f"{url!r}: write redis+sentinel://host:26379[,host:26379...]/service[/db]"
        )
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"{url!r}: the database is a number, not {db!r}")
    password = unquote(parts.password) if parts.password else None
    return SentinelAddress(tuple(sentinels), path[0], int(db), password)


def client(url, **options):
    """A redis-py asyncio client for `url`; `options` go to its connections."""
    address = parse_sentinel_url(url)
    if address is None:
        return redis.Redis.from_url(url, **options)
    return sentinel_for(address, options).master_for(
        address.service, db=address.db, password=address.password, **options
    )


class ClientPerLoop:
    """A redis-py asyncio client per event loop, made by `make()` on first use.

    Each such client belongs to the loop it was made on; a process runs
    several loops (daphne's, each test's, a management command's)."""

    def __init__(self, make):
        self._make = make
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def get(self):
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._make()
        return client


def sentinel_for(address, options):
    """The Sentinel client: it answers fast or not at all, as the primary should."""
    timeout = {"socket_connect_timeout": options.get("socket_connect_timeout", 2)}
    return Sentinel(list(address.sentinels), sentinel_kwargs=timeout)


def channel_layer_host(url, **options):
    """The `hosts` entry of channels-redis for `url` (both of its layers)."""
    address = parse_sentinel_url(url)
    if address is None:
        return {"address": url, **options}
    return {
        "sentinels": list(address.sentinels),
        "master_name": address.service,
        "sentinel_kwargs": {
            "socket_connect_timeout": options.get("socket_connect_timeout", 2)
        },
        "db": address.db,
        "password": address.password,
        **options,
    }
