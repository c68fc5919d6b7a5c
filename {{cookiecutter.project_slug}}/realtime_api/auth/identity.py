"""Keep each socket's user as stored now (PROTOCOL.md "Present credentials").

HTTP reads the session and the user on every request; a socket authenticates
once and lives for hours. So each server process sweeps, every
`SWEEP_SECONDS`, the users, sessions and tokens its open sockets hold, in a
few queries for all of them (not per request, not per socket):

- a user whose row, groups, permissions or groups' permissions changed (a
  `save()`, a `QuerySet.update()`, an m2m change, another process, a shell:
  no signal is needed) gets a fresh user object on each of their sockets, and
  the audiences built for them (audience.py) are rebuilt on next use, so the
  next request, event, watch evaluation, presence check and replay are
  decided for the user as stored now. A fresh object, because Django caches
  permissions on the user object (`_perm_cache` and the like);
- a socket whose credentials HTTP would no longer accept is closed with 4001:
  the user deleted or inactive; its session (the cookie's, or the one that
  minted its ticket) deleted, flushed, expired, or no longer this user's or
  this password's; its token (the header's, or the one that minted its
  ticket) deleted.

The signals of sessions.py still close sockets at once on the common paths
(logout, password change by `save()`); the sweep is the bound: 1 s.
"""

import asyncio
import itertools
import logging
import time
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends import db as db_sessions
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from realtime_api.auth.primed_permissions import prime
from realtime_api.delivery.changes import Change
from realtime_api.streams.view_threads import with_fresh_connection

logger = logging.getLogger(__name__)

# How often a process re-reads what its sockets hold: a change is applied
# within this plus the sweep's own time (PROTOCOL.md promises 1 s).
SWEEP_SECONDS = 0.5

# The sweeps read in a thread (and connection) of their own: handshakes and
# requests do not wait behind them.
_executor = ThreadPoolExecutor(1, thread_name_prefix="realtime-identity")
_versions = itertools.count(1)
# user pk -> (version, fingerprint, user object): the users as last read in
# this process. Audiences of other threads read it; only the sweep writes it.
_current: dict[Any, Any] = {}


def current_user(pk):
    """Return (version, user) of the user as last swept here, or None."""
    found = _current.get(pk)
    return None if found is None else (found[0], found[2])


@dataclass(frozen=True)
class Held:
    """What one socket holds: its user, and the session or token behind it."""

    user_pk: object
    session_key: str | None = None
    token_key: str | None = None


def held_by(scope):
    """What a socket's scope holds that can end (None: an anonymous socket)."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    credentials = scope.get("realtime_credentials")
    if credentials is None:  # The session cookie.
        session = scope.get("session")
        return Held(user.pk, session_key=getattr(session, "session_key", None))
    minted_by = getattr(credentials, "minted_by", None)
    if credentials.method == "ticket" and minted_by is not None:
        kind, key = minted_by
        if kind == "session":
            return Held(user.pk, session_key=key)
        return Held(user.pk, token_key=key)
    token = getattr(credentials.auth, "key", None) if credentials.revocable else None
    return Held(user.pk, token_key=token)


class Sweep:
    """The sockets of one event loop, and the task that keeps them fresh."""

    def __init__(self):
        self.sockets = {}  # consumer -> [Held, version of the user it holds]
        self.holders: Counter[Any] = Counter()  # user pk -> its sockets here
        self.task = None

    @staticmethod
    async def in_database(function, *args):
        async with ThreadSensitiveContext(executor=_executor):
            return await sync_to_async(with_fresh_connection)(function, *args)

    async def add(self, consumer):
        """Hold the socket's user as this process last read it.

        The first socket of a user here reads the user now, with its
        fingerprint: the baseline of changes. The next share that user
        object (one per user and process, not per socket): a change since it
        was read is the next sweep's to tell them all of, within the bound.
        """
        held = held_by(consumer.scope)
        if held is None:
            return
        known = _current.get(held.user_pk)
        if known is not None and self.holders[held.user_pk]:
            consumer.scope["user"] = known[2]
            self.hold(consumer, held, known[0])
            return
        started = time.monotonic()
        users = await database_sync_to_async(read_users)({held.user_pk})
        if held.user_pk not in users:  # Gone since the handshake read it.
            await close(consumer)
            return
        fingerprint, user = users[held.user_pk]
        known = _current.get(held.user_pk)
        alone = not self.holders[held.user_pk]
        if known is None or (known[1] != fingerprint and alone):
            # No other socket here holds the user: nobody to tell of a change.
            known = _current[held.user_pk] = (
                next(_versions),
                fingerprint,
                user,
                started,
            )
        # A changed user (its other sockets, opened meanwhile, hold the old
        # one) is the sweep's to tell them of; this socket holds what was
        # just read either way.
        consumer.scope["user"] = user
        self.hold(consumer, held, known[0] if known[1] == fingerprint else None)

    def hold(self, consumer, held, version):
        self.sockets[consumer] = [held, version]
        self.holders[held.user_pk] += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, consumer):
        entry = self.sockets.pop(consumer, None)
        if entry is None:
            return
        pk = entry[0].user_pk
        self.holders[pk] -= 1
        if not self.holders[pk]:
            del self.holders[pk]
            _current.pop(pk, None)  # Read afresh when back.

    async def run(self):
        while self.sockets:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                logger.exception("Could not re-read the users of open sockets")

    async def sweep(self):
        sockets = list(self.sockets.items())
        helds = [held for _, (held, _) in sockets]
        started = time.monotonic()
        state = await self.in_database(read_state, helds)
        changed = set()
        for pk in {held.user_pk for held in helds}:
            fingerprint, user = state.users.get(pk, (None, None))
            known = _current.get(pk)
            if known is not None and known[3] > started:
                continue  # Read by a socket's connect after this sweep began.
            if user is not None and (known is None or known[1] != fingerprint):
                _current[pk] = (next(_versions), fingerprint, user, started)
                if known is not None:
                    changed.add(pk)
        for consumer, entry in sockets:
            if consumer not in self.sockets:
                continue  # Closed meanwhile.
            held = entry[0]
            if not state.accepts(held):
                self.discard(consumer)
                await close(consumer)
                continue
            current = _current.get(held.user_pk)
            if current is None:
                continue
            version, _, user, _ = current
            if entry[1] != version:  # Each socket gets the fresh user once.
                entry[1] = version
                consumer.scope["user"] = user
                if not keys_still_hold(consumer):
                    self.discard(consumer)
                    await close(consumer)
        runtimes: set[Any] = {
            getattr(consumer, "runtime", None) for consumer, _ in sockets
        }
        for runtime in runtimes - {None}:
            for pk in changed:
                await recheck_user(runtime.hub, pk)


def audiences_of(consumer):
    """The audiences a socket's subscriptions, presence and watches use."""
    for subscriber in (getattr(consumer, "subscribers", None) or {}).values():
        yield subscriber.audience
    for listener in (getattr(consumer, "presence_listeners", None) or {}).values():
        yield listener.audience
    for watcher in (getattr(consumer, "watches", None) or {}).values():
        yield watcher.query.audience


def keys_still_hold(consumer):
    """Whether the socket's user still gets the visibility keys it listens with.

    An endpoint may share an audience between users (`get_visibility_key()`,
    e.g. one key for all staff). A user who changed out of such a key must
    not keep listening with it: the socket is closed with 4001, and its
    reconnect listens under the new key.
    """
    for audience in audiences_of(consumer):
        endpoint = audience.adapter.endpoint_class(audience.adapter, consumer.scope)
        if endpoint.get_visibility_key() != audience.key:
            return False
    return True


async def recheck_user(hub, pk):
    """Tell a changed user's subscriptions and watches what they no longer see.

    A `recheck` of the objects each already knows (and, for a live query,
    of those its query holds for the fresh user): subscriptions get a
    `leave` for what is hidden now, live queries `leave` and `enter`, and
    presence takes the socket out of objects it may no longer see; as a
    change of those objects would. Objects nobody told the socket of are not
    read: this costs what the user's sockets hold, not the tables.
    """
    from realtime_api.delivery.hub import Plan  # The hub's audiences read this module.

    targets = {}  # stream -> (subscribers and presence, live queries)
    for stream, listeners in list(hub.streams.items()):
        mine = {s for s in listeners.subscribers if s.audience.user_pk == pk}
        queries = [
            query
            for query in listeners.live_queries.values()
            if query.audience.user_pk == pk and query.ready
        ]
        if mine or queries:
            targets[stream] = (mine, queries)
    if not targets:
        return

    def objects_concerned():
        """Per stream: what the user's listeners know, and their queries hold now."""
        found = {}
        for stream, (mine, queries) in targets.items():
            pks = {pk for s in mine for pk in getattr(s, "known", ())}
            for query in queries:
                pks |= set(query.members) | query.matching()
            found[stream] = pks
        return found

    plans = []
    for stream, pks in (await hub.in_database(objects_concerned)).items():
        if pks:
            change = Change(stream, "recheck", filter={"pk__in": sorted(pks)})
            # Logged like any change: an event carries a seq (a replay of it
            # only hides again what is hidden).
            seq = await hub.runtime.event_log.append(change)
            plans.append(Plan(change.with_seq(seq), *targets[stream]))
    if plans:
        await hub.run_plans(plans)


async def close(consumer):
    from realtime_api.auth.revocation import CLOSE_CODE

    try:
        await consumer.close(code=CLOSE_CODE)
    except Exception:
        logger.warning(
            "Could not close a socket whose credentials ended", exc_info=True
        )


# event loop -> Sweep
_sweeps: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def sweep_of_this_loop():
    loop = asyncio.get_running_loop()
    sweep = _sweeps.get(loop)
    if sweep is None:
        sweep = _sweeps[loop] = Sweep()
    return sweep


async def watch(consumer):
    """Keep `consumer`'s user fresh and close it when its credentials end."""
    await sweep_of_this_loop().add(consumer)


def forget(consumer):
    sweep_of_this_loop().discard(consumer)


# --- Reading the database (in a database thread) ------------------------------


class State:
    """The users, sessions and tokens of a sweep, as stored now."""

    def __init__(self, users, sessions, tokens):
        self.users = users  # pk -> (fingerprint, user) of active users
        self.sessions = sessions  # session key -> pk of the user it logs in
        self.tokens = tokens  # token key -> pk of its user

    def accepts(self, held):
        if held.user_pk not in self.users:  # Deleted or inactive.
            return False
        if held.session_key is not None:
            return self.sessions.get(held.session_key) == held.user_pk
        if held.token_key is not None:
            return self.tokens.get(held.token_key) == held.user_pk
        return True


def read_state(helds):
    """Read what `helds` name: about six queries, however many sockets."""
    pks = {held.user_pk for held in helds}
    users = read_users(pks)
    session_keys = {h.session_key for h in helds if h.session_key is not None}
    token_keys = {h.token_key for h in helds if h.token_key is not None}
    sessions = session_users(session_keys, users)
    tokens = read_tokens(token_keys)
    return State(users, sessions, tokens)


def read_users(pks):
    """{pk: (fingerprint, user)} of the active users of `pks`.

    The fingerprint is the row, the user's groups and permissions and those
    groups' permissions: whatever permission checks may read.
    """
    model = get_user_model()
    rows = [
        user
        for user in model._default_manager.filter(pk__in=pks)
        if getattr(user, "is_active", True)
    ]
    # last_login changes at every login elsewhere and no permission reads it:
    # a recheck of the user's sockets for it would be wasted.
    fields = [
        field.attname
        for field in model._meta.concrete_fields
        if field.attname != "last_login"
    ]
    groups = m2m_pairs(model, "groups", [u.pk for u in rows])
    permissions = m2m_pairs(model, "user_permissions", [u.pk for u in rows])
    group_ids = {group for members in groups.values() for group in members}
    group_permissions = m2m_pairs(Group, "permissions", group_ids)
    if has_permissions(model):
        prime(rows, permissions, groups, group_permissions)
    found = {}
    for user in rows:
        own_groups = sorted(groups.get(user.pk, ()))
        fingerprint = (
            tuple(getattr(user, name) for name in fields),
            tuple(own_groups),
            tuple(sorted(permissions.get(user.pk, ()))),
            tuple(sorted(p for g in own_groups for p in group_permissions.get(g, ()))),
        )
        found[user.pk] = (fingerprint, user)
    return found


def has_permissions(model):
    """Whether `model` keeps permissions as Django's (PermissionsMixin)."""
    try:
        fields = [
            model._meta.get_field(name) for name in ("groups", "user_permissions")
        ]
    except Exception:
        return False
    return all(field.many_to_many for field in fields)


def m2m_pairs(model, name, pks):
    """{pk: {related pk}} through `model`'s many-to-many field `name`, if any."""
    try:
        field = model._meta.get_field(name)
    except Exception:
        return {}
    if not pks or not field.many_to_many:
        return {}
    through = field.remote_field.through
    source = field.m2m_column_name()
    target = field.m2m_reverse_name()
    pairs: dict[Any, set[Any]] = {}
    rows = through._default_manager.filter(**{f"{source}__in": pks})
    for source_pk, target_pk in rows.values_list(source, target):
        pairs.setdefault(source_pk, set()).add(target_pk)
    return pairs


def read_tokens(keys):
    from realtime_api.auth.revocation import token_model

    model = token_model()
    if not keys or model is None:
        return {}
    return dict(
        model._default_manager.filter(key__in=keys).values_list("key", "user_id")
    )


# What the sweeps computed last, in the database thread: session key ->
# (stored text, decoded data); (user pk, password hash, session hash) -> match.
_decoded: dict[Any, Any] = {}
_hash_checks: dict[Any, Any] = {}


def session_engine():
    return import_string(settings.SESSION_ENGINE + ".SessionStore")


def session_data(keys):
    """{key: data} of the sessions of `keys` that exist and have not expired."""
    store_class = session_engine()
    if issubclass(store_class, db_sessions.SessionStore):
        # The database (and cached_db, which writes through): one query.
        rows = store_class.get_model_class()._default_manager.filter(
            session_key__in=keys, expire_date__gt=timezone.now()
        )
        decoder, decoded = store_class(), {}
        for key, raw in rows.values_list("session_key", "session_data"):
            known = _decoded.get(key)
            # Decoding (a signature check and JSON) is most of a sweep's time:
            # a session whose stored text is the same decodes the same.
            decoded[key] = (
                known if known and known[0] == raw else (raw, decoder.decode(raw))
            )
        _decoded.clear()
        _decoded.update(decoded)
        return {key: data for key, (_, data) in decoded.items()}
    found = {}
    for key in keys:  # The cache, signed cookies, others: as each loads.
        store = store_class(session_key=key)
        data = store.load()
        if store.session_key is not None and data:
            found[key] = data
    return found


def session_users(keys, users):
    """{key: user pk} for the sessions HTTP would log in as that user now.

    What `django.contrib.auth.get_user()` checks: the backend is still
    configured and lets the user in, and the session's hash still matches
    the user's password.
    """
    if not keys:
        return {}
    pk_field = get_user_model()._meta.pk
    logged_in = {}
    for key, data in session_data(keys).items():
        try:
            pk = pk_field.to_python(data[auth.SESSION_KEY])
            backend_path = data[auth.BACKEND_SESSION_KEY]
        except Exception:
            continue
        if pk not in users or backend_path not in settings.AUTHENTICATION_BACKENDS:
            continue
        user = users[pk][1]
        backend = auth.load_backend(backend_path)
        can = getattr(backend, "user_can_authenticate", None)
        if can is not None and not can(user):
            continue
        if hasattr(user, "get_session_auth_hash") and not session_hash_matches(
            data.get(auth.HASH_SESSION_KEY), user
        ):
            continue
        logged_in[key] = pk
    return logged_in


def session_hash_matches(session_hash, user):
    """As `get_user()` checks a session against the password (and fallbacks)."""
    if not session_hash:
        return False
    key = (user.pk, getattr(user, "password", None), session_hash)
    matches = _hash_checks.get(key)
    if matches is None:
        hashes = [user.get_session_auth_hash()]
        fallback = getattr(user, "get_session_auth_fallback_hash", None)
        if fallback is not None:
            hashes += list(fallback())
        matches = any(constant_time_compare(session_hash, h) for h in hashes)
        if len(_hash_checks) > 100_000:
            _hash_checks.clear()
        _hash_checks[key] = matches
    return matches
