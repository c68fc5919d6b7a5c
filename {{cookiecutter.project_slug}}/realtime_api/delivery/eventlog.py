"""The per-stream event log: a `seq` for every event, and replay after a reconnect.

Every change broadcast on a stream gets the next `seq` of that stream and is
kept in a bounded log, so that `subscribe` with `since` can send what a
client missed. With REALTIME_API_REDIS_URL (REDIS_URL in the generated
settings) the counter and the log live in Redis, shared by every server
process; otherwise they live in this process.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass

from realtime_api import conf
from realtime_api.delivery.changes import Change
from realtime_api.ops import redis_connection

# What one logged change costs in memory besides its strings: the Change and
# LoggedEvent objects, their tuples, the id, the deque's slot (tracemalloc).
ENTRY_OVERHEAD = 400


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    time: float
    change: Change
    size: int = 0  # Its estimated bytes in memory (MemoryEventLog).

    @property
    def seq(self):
        return self.change.seq


@dataclass(frozen=True, slots=True)
class Replay:
    """Events with a seq above `since` on some groups, or `too_old`."""

    changes: list  # Change objects, in seq order
    too_old: bool


def select(entries, since, groups, current_seq):
    """Pick the replay out of the log entries with a seq above `since`."""
    if since > current_seq:
        return Replay([], too_old=True)  # A seq this server never gave.
    horizon = time.time() - conf.event_log_seconds()
    kept = [entry for entry in entries if entry.time >= horizon]
    oldest = kept[0].seq if kept else current_seq + 1
    if oldest > since + 1:
        return Replay([], too_old=True)  # Some missed events are gone.
    changes = [
        entry.change
        for entry in kept
        if entry.seq > since and entry.change.concerns(groups)
    ]
    return Replay(changes, too_old=False)


def entry_size(change):
    """The estimated bytes a logged change holds: only deletes carry data."""
    strings = [*change.groups, *change.old_groups, change.deleted_json or ""]
    if change.filter:
        strings.append(json.dumps(change.filter, default=str))
    return ENTRY_OVERHEAD + sum(len(text) for text in strings)


class MemoryEventLog:
    """The log of one process: enough for `runserver` and the tests.

    Each stream keeps at most REALTIME_API_EVENT_LOG_SIZE events and
    REALTIME_API_EVENT_LOG_BYTES bytes (estimated), the oldest going first.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._seqs = {}
        self._entries = {}
        self._bytes = {}

    async def append(self, change):
        """Log `change` under its stream's next seq; return the seq."""
        stream = change.stream
        size, now = entry_size(change), time.time()
        with self._lock:
            seq = self._seqs.get(stream, 0) + 1
            self._seqs[stream] = seq
            entries = self._entries.setdefault(stream, deque())
            entries.append(LoggedEvent(now, change.with_seq(seq), size))
            held = self._bytes.get(stream, 0) + size
            count, limit = conf.event_log_size(), conf.event_log_bytes()
            while len(entries) > count or (held > limit and len(entries) > 1):
                held -= entries.popleft().size
            self._bytes[stream] = held
            return seq

    def held_bytes(self, stream):
        """The estimated bytes of `stream`'s log now."""
        with self._lock:
            return self._bytes.get(stream, 0)

    async def replay(self, stream, since, groups):
        with self._lock:
            entries = [e for e in self._entries.get(stream, ()) if e.seq > since]
            current = self._seqs.get(stream, 0)
        return select(entries, since, set(groups), current)


# Increment the stream's seq, log the event under it, keep the newest N.
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
"""


class RedisEventLog:
    """The log shared by every process: a counter and a sorted set per stream."""

    def __init__(self, url):
        self.url = url
        self._clients = redis_connection.ClientPerLoop(self._connect)

    def _connect(self):
        # Fail fast on an unreachable host: publishing waits for the log.
        client = redis_connection.client(self.url, socket_connect_timeout=2)
        client.append_script = client.register_script(_APPEND)
        return client

    def _client(self):
        return self._clients.get()

    @staticmethod
    def _keys(stream):
        prefix = conf.redis_prefix()
        return f"{prefix}:seq:{stream}", f"{prefix}:log:{stream}"

    async def append(self, change):
        """Log `change` under its stream's next seq; return the seq."""
        message = change.to_message()
        del message["type"], message["seq"]
        member = json.dumps({"time": time.time(), "change": message})
        client = self._client()
        return await client.append_script(
            keys=self._keys(change.stream),
            args=[member, conf.event_log_size(), conf.event_log_seconds() * 2],
        )

    async def replay(self, stream, since, groups):
        seq_key, log_key = self._keys(stream)
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.get(seq_key)
            pipe.zrangebyscore(log_key, f"({since}", "+inf")
            current, members = await pipe.execute()
        entries = [_parse(member) for member in members]
        return select(entries, since, set(groups), int(current or 0))


def _parse(member):
    seq, entry = member.decode().split(" ", 1)
    entry = json.loads(entry)
    change = Change.from_message({**entry["change"], "seq": int(seq)})
    return LoggedEvent(entry["time"], change)


def event_log_from_settings():
    """Return a new event log: in Redis when configured, else in this process."""
    url = conf.redis_url()
    return RedisEventLog(url) if url else MemoryEventLog()
