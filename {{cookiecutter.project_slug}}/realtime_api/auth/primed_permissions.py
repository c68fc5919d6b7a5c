"""Django's permission caches, filled from what the identity sweep read.

ModelBackend caches a user's permissions on the user object at the first
check: two queries per user (their own, their groups'), which a join storm
of 200 users pays 200 times. identity.py reads the same rows for every user
it hands to sockets (their fingerprint) and fills those caches from that
read, so no check on a socket's user queries them again. They last as long
as the object, which the sweep replaces once the fingerprint (these rows
among them) changes: no longer than the permissions hold, as before.
"""

from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

# How ModelBackend reads permissions: a backend that overrides one of these
# reads them its own way, and its users' caches are left to it.
_READERS = (
    "_get_permissions",
    "_get_user_permissions",
    "_get_group_permissions",
    "get_user_permissions",
    "get_group_permissions",
    "get_all_permissions",
)


def model_backend_in_use():
    """Whether a backend reads permissions exactly as ModelBackend does."""
    return any(
        isinstance(backend, ModelBackend)
        and all(
            getattr(type(backend), name) is getattr(ModelBackend, name)
            for name in _READERS
        )
        for backend in auth.get_backends()
    )


def prime(users, permissions, groups, group_permissions):
    """Fill ModelBackend's caches on `users` from read_users' pairs.

    permissions: {user pk: {permission pk}}; groups: {user pk: {group pk}};
    group_permissions: {group pk: {permission pk}}.
    """
    users = [u for u in users if not getattr(u, "is_superuser", True)]
    if not users or not model_backend_in_use():
        return  # A superuser has every permission: Django reads them all.
    ids = {p for user in users for p in permissions.get(user.pk, ())}
    ids.update(p for members in group_permissions.values() for p in members)
    names = {}
    if ids:
        rows = Permission.objects.filter(pk__in=ids).values_list(
            "pk", "content_type__app_label", "codename"
        )
        names = {pk: f"{app_label}.{codename}" for pk, app_label, codename in rows}
    for user in users:
        own = permissions.get(user.pk, ())
        of_groups = {
            p for g in groups.get(user.pk, ()) for p in group_permissions.get(g, ())
        }
        # A permission deleted since the pairs were read is not held.
        user._user_perm_cache = {names[p] for p in own if p in names}
        user._group_perm_cache = {names[p] for p in of_groups if p in names}
