"""pytest fixtures for realtime tests: `user`, `admin` and live daphne servers.

Enable with `pytest_plugins = ["realtime_api.pytest_plugin"]` in conftest.py.
"""

import pytest

from .live_server import DaphneServer


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


@pytest.fixture
def daphne_servers(transactional_db):
    """Start real daphne servers on the test database: `start(env=None)`.

    Each call starts one more process (they share the channel layer when
    REDIS_URL is set); all are stopped after the test.
    """
    servers = []

    def start(env=None):
        server = DaphneServer(env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne_server(daphne_servers):
    """One real daphne server on the test database; `.url` is ws://HOST:PORT."""
    return daphne_servers()
