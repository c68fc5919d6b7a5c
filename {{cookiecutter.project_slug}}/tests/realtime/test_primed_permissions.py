"""The users identity.py reads answer `has_perm` from what it read.

The sweep reads every user's permissions and groups' permissions anyway (its
fingerprint); the user object it hands to sockets carries them as Django's
ModelBackend caches them, so a socket's first permission check (a join's
read, say) costs no query. The cache is the fingerprint's: a change to it
makes the sweep hand out a fresh object, with the new permissions.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from realtime_api.auth import identity

pytestmark = pytest.mark.django_db

CHANGE_USER = "auth.change_user"
VIEW_GROUP = "auth.view_group"


def permission(name):
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def users():
    model = get_user_model()
    plain = model.objects.create_user("plain")
    direct = model.objects.create_user("direct")
    direct.user_permissions.add(permission(CHANGE_USER))
    member = model.objects.create_user("member")
    group = Group.objects.create(name="viewers")
    group.permissions.add(permission(VIEW_GROUP))
    member.groups.add(group)
    return plain, direct, member


def read(user):
    fingerprint, fresh = identity.read_users({user.pk})[user.pk]
    return fingerprint, fresh


def test_read_users_answer_has_perm_without_a_query(users, django_assert_num_queries):
    plain, direct, member = (read(user)[1] for user in users)
    with django_assert_num_queries(0):
        assert not plain.has_perm(CHANGE_USER) and not plain.has_perm(VIEW_GROUP)
        assert direct.has_perm(CHANGE_USER) and not direct.has_perm(VIEW_GROUP)
        assert member.has_perm(VIEW_GROUP) and not member.has_perm(CHANGE_USER)
        assert member.get_all_permissions() == {VIEW_GROUP}


def test_a_permission_granted_or_revoked_is_in_the_next_read(users):
    plain, direct, _ = users
    before, held = read(plain)
    plain.user_permissions.add(permission(CHANGE_USER))
    after, fresh = read(plain)
    assert after != before  # The sweep hands the sockets `fresh`...
    assert fresh.has_perm(CHANGE_USER)  # ... which holds the grant.
    assert not held.has_perm(CHANGE_USER)  # (The one it replaces did not.)
    direct.user_permissions.clear()
    assert not read(direct)[1].has_perm(CHANGE_USER)


def test_a_group_permission_revoked_is_in_the_next_read(users):
    *_, member = users
    Group.objects.get(name="viewers").permissions.clear()
    assert not read(member)[1].has_perm(VIEW_GROUP)


def test_a_superuser_is_left_to_django(db):
    admin = get_user_model().objects.create_superuser("admin", password="x")
    fresh = read(admin)[1]
    assert not hasattr(fresh, "_user_perm_cache")
    assert fresh.has_perm(CHANGE_USER)


def test_other_backends_are_left_to_themselves(users, settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.realtime.test_primed_permissions.Own"]
    fresh = read(users[0])[1]
    assert not hasattr(fresh, "_user_perm_cache")
    assert fresh.has_perm("anything.at_all")


class Own:
    """A backend with permissions of its own: every one, to everyone."""

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        return None

    def has_perm(self, user, perm, obj=None):
        return True
