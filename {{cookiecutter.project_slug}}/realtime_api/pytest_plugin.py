"""pytest fixtures for realtime tests: `user` and `admin`.

Enable with `pytest_plugins = ["realtime_api.pytest_plugin"]` in conftest.py.
"""

import pytest


@pytest.fixture
def user(db, django_user_model):
    """A saved user who can log in with the password "pw"."""
    return django_user_model.objects.create_user(username="user", password="pw")


@pytest.fixture
def admin(db, django_user_model):
    """A saved superuser who can log in with the password "pw"."""
    return django_user_model.objects.create_superuser(
        username="admin", password="pw", email="admin@example.com"
    )
