"""The load's users and their sessions, written to the project's database.

The server under load must use the same database (same settings, same
DATABASE_URL) to find the sessions the load's sockets present. The users have
no usable password: nobody can log in as them, only hold their sessions.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from realtime_api.testing import create_session

USERNAME = "realtime-bench"


def session_key():
    """Return a fresh session of the load's user, created on first use."""
    return create_session(bench_users([USERNAME])[0])


def flooder_session_key():
    """Return a fresh session of F1's flooder, a user of its own."""
    return create_session(bench_users([f"{USERNAME}-flooder"])[0])


def session_keys(count):
    """Return `count` sessions of as many different users (W2u).

    The users are realtime-bench-1 ... realtime-bench-<count>, kept between
    runs; one transaction, so that thousands of them take seconds on SQLite.
    """
    names = [f"{USERNAME}-{n}" for n in range(1, count + 1)]
    with transaction.atomic():
        return [create_session(user) for user in bench_users(names)]


def bench_users(names):
    """Return the users named `names`, in that order, creating those missing."""
    model = get_user_model()
    field = model.USERNAME_FIELD
    manager = model._default_manager
    existing = {
        user.get_username(): user for user in manager.filter(**{f"{field}__in": names})
    }
    missing = [name for name in names if name not in existing]
    if missing:
        unusable = make_password(None)
        manager.bulk_create(
            [model(**{field: name, "password": unusable}) for name in missing]
        )
        existing.update(
            (user.get_username(), user)
            for user in manager.filter(**{f"{field}__in": missing})
        )
    return [existing[name] for name in names]
