"""Where presence lives: who is present in each room, for every server process.

A room is one object of a stream ("topics:3"). A process writes one entry
per user it serves sockets of in a room, "<process>:<user id>", so a user
with several sockets, tabs or processes is present once, until their last
entry goes. Every call returns the room as it is after it (`RoomState`):
its members, and the members who left with this call.

Entries live as long as their process keeps them: it pushes their expiry
back every heartbeat (`refresh`). The entries of a process that died
expire; whichever call next touches the room removes them and returns the
users who left with them, for the caller to announce. Every call gives the
room a new version, growing across processes (Redis' clock): an event
about a user applies only where nothing newer is known of that user.

With REALTIME_API_REDIS_URL the rooms live in Redis (`RedisPresenceStore`),
shared by every server process; otherwise in this process.
"""

import json
from dataclasses import dataclass, field

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime_api import conf
from realtime_api.ops import redis_connection


@dataclass(slots=True)
class RoomState:
    """A room after one call: who is present, and who left with the call."""

    version: int
    members: dict | None  # user id (str) -> member, everyone present; None: not read
    new: bool = False  # join: the user had no entry in the room before
    gone: dict = field(default_factory=dict)  # user id -> member, left just now


class MemoryPresenceStore:
    """The rooms of one process (nothing expires: the process is all there is)."""

    def __init__(self):
        self.rooms = {}  # room -> {"entries": set of (process, user), "members": {}}
        self.version = 0

    def _next_version(self):
        self.version += 1
        return self.version

    def _room(self, room):
        return self.rooms.setdefault(room, {"entries": set(), "members": {}})

    async def join(self, room, process, user, member, read=True):
        state = self._room(room)
        new = user not in state["members"]
        state["entries"].add((process, user))
        state["members"][user] = member
        members = dict(state["members"]) if read else None
        return RoomState(self._next_version(), members, new)

    async def leave(self, room, process, user):
        state = self._room(room)
        state["entries"].discard((process, user))
        gone = {}
        if all(other != user for _, other in state["entries"]):
            member = state["members"].pop(user, None)
            if member is not None:
                gone[user] = member
        if not state["entries"]:
            del self.rooms[room]
        return RoomState(self._next_version(), None, gone=gone)

    async def refresh(self, room, process, local):
        state = self._room(room)
        for user, member in local.items():
            state["entries"].add((process, user))
            state["members"][user] = member
        return RoomState(self._next_version(), dict(state["members"]))


# The scripts share a prologue. KEYS[1]: the room's entries (a sorted set,
# scored by expiry time); KEYS[2]: its members by user id (a hash), and its
# version in the field "~v". ARGV[1]: seconds an entry lives unrefreshed;
# ARGV[2]: seconds the keys outlive the last call.
_PROLOGUE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local expires = now + tonumber(ARGV[1])

local function user_of(entry)
  return string.sub(entry, string.find(entry, ':', 1, true) + 1)
end

-- Entries of processes that stopped refreshing them: removed, returned.
local function sweep()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  end
  return expired
end

local function present_users()
  local users = {}
  for _, entry in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    users[user_of(entry)] = true
  end
  return users
end

-- The room's next version: Redis' clock in microseconds, always growing.
local function next_version()
  local version = math.floor(now * 1000000)
  local last = tonumber(redis.call('HGET', KEYS[2], '~v') or '0')
  if version <= last then version = last + 1 end
  redis.call('HSET', KEYS[2], '~v', string.format('%.0f', version))
  return version
end

-- {version, new, {user, member, ...} present (if `read` is '1') or {},
-- {user, member, ...} gone, read}: the users of `removed` entries who are
-- not in `users` (those with an entry left) are gone.
local function finish(removed, users, new, read)
  local gone, seen = {}, {}
  for _, entry in ipairs(removed) do
    local user = user_of(entry)
    if not users[user] and not seen[user] then
      seen[user] = true
      local member = redis.call('HGET', KEYS[2], user)
      if member then
        redis.call('HDEL', KEYS[2], user)
        table.insert(gone, user)
        table.insert(gone, member)
      end
    end
  end
  local present = {}
  if read == '1' then
    local all = redis.call('HGETALL', KEYS[2])
    for i = 1, #all, 2 do
      if users[all[i]] then
        table.insert(present, all[i])
        table.insert(present, all[i + 1])
      end
    end
  end
  local version = next_version()
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return {version, new, present, gone, read == '1' and 1 or 0}
end
"""

# ARGV[3]: the entry, ARGV[4]: its user, ARGV[5]: the member (JSON),
# ARGV[6]: '1' to read who is present.
_JOIN = (
    _PROLOGUE
    + """
local removed = sweep()
local users = present_users()
local new = users[ARGV[4]] and 0 or 1
redis.call('ZADD', KEYS[1], expires, ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
users[ARGV[4]] = true
return finish(removed, users, new, ARGV[6])
"""
)

# ARGV[3]: the entry.
_LEAVE = (
    _PROLOGUE
    + """
redis.call('ZREM', KEYS[1], ARGV[3])
local removed = sweep()
table.insert(removed, ARGV[3])
return finish(removed, present_users(), 0, '0')
"""
)

# ARGV[3]: the process; then pairs of user, member (JSON): its entries.
_REFRESH = (
    _PROLOGUE
    + """
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], expires, ARGV[3] .. ':' .. ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
local removed = sweep()
return finish(removed, present_users(), 0, '1')
"""
)


class RedisPresenceStore:
    """The rooms of every process, in Redis: three scripts, one round trip each."""

    def __init__(self, url):
        self.url = url
        self._clients = redis_connection.ClientPerLoop(self._connect)

    def _connect(self):
        client = redis_connection.client(
            self.url,
            socket_connect_timeout=2,
            # After Redis restarts, the first command on a pooled
            # connection fails: retry it on a fresh one.
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        client.presence_scripts = {
            "join": client.register_script(_JOIN),
            "leave": client.register_script(_LEAVE),
            "refresh": client.register_script(_REFRESH),
        }
        return client

    def _client(self):
        return self._clients.get()

    @staticmethod
    def keys(room):
        prefix = f"{conf.redis_prefix()}:presence:{room}"
        return [prefix, f"{prefix}:members"]

    async def _run(self, script, room, *args):
        ttl = conf.presence_ttl_seconds()
        key_ttl = max(60, round(4 * ttl))
        client = self._client()
        reply = await client.presence_scripts[script](
            keys=self.keys(room), args=[ttl, key_ttl, *args]
        )
        version, new, present, gone, read = reply
        members = _members(present) if read else None
        return RoomState(int(version), members, bool(new), _members(gone))

    async def join(self, room, process, user, member, read=True):
        """Add the entry; `read`: also return who is present (else None)."""
        entry = f"{process}:{user}"
        read = "1" if read else "0"
        return await self._run("join", room, entry, user, json.dumps(member), read)

    async def leave(self, room, process, user):
        return await self._run("leave", room, f"{process}:{user}")

    async def refresh(self, room, process, local):
        pairs = [value for u, m in local.items() for value in (u, json.dumps(m))]
        return await self._run("refresh", room, process, *pairs)


def _members(flat):
    """{user id: member} from the scripts' [user, member JSON, ...] lists."""
    return {flat[i].decode(): json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}


def presence_store_from_settings():
    """Return a new store: in Redis when configured, else in this process."""
    url = conf.redis_url()
    return RedisPresenceStore(url) if url else MemoryPresenceStore()
