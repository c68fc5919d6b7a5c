"""Fixtures of the sample app's tests: users and a small discussion.

`user` (the owner of everything in `world`) and `admin` (staff) come from
`realtime_api.testing.pytest_plugin`.
"""

from types import SimpleNamespace

import pytest

from discussion.models import Comment, Topic


@pytest.fixture
def other(db, django_user_model):
    """A second user, who owns nothing in `world`."""
    return django_user_model.objects.create_user(username="other", password="pw")


@pytest.fixture
def world(user, other):
    """Public and private topics of `user`, with comments, and one of `other`."""
    public = Topic.objects.create(title="Apples", owner=user)
    private = Topic.objects.create(title="Secrets", owner=user, is_private=True)
    others = Topic.objects.create(title="Bananas", owner=other)
    texts = ["apple pie", "banana split", "apple tart", "cherry", "plum"]
    comments = [
        Comment.objects.create(topic=public, author=user, text=t) for t in texts
    ]
    return SimpleNamespace(
        public_topic=public,
        private_topic=private,
        others_topic=others,
        public_comment=comments[0],
        comments=comments,
        private_comment=Comment.objects.create(
            topic=private, author=user, text="secret apple"
        ),
        others_comment=Comment.objects.create(topic=others, author=other, text="hi"),
    )


@pytest.fixture
def users(user, other, admin):
    """The users of the permission tests by role (anonymous is None)."""
    return {"anonymous": None, "other": other, "owner": user, "staff": admin}


@pytest.fixture
def alice(django_user_model):
    """A user of the browser tests (password "pw")."""
    return django_user_model.objects.create_user(username="alice", password="pw")


@pytest.fixture
def bob(django_user_model):
    """Another user of the browser tests (password "pw")."""
    return django_user_model.objects.create_user(username="bob", password="pw")
