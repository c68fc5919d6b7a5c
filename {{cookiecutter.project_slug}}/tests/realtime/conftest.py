"""The framework's tests serve the test app (tests/realtime/testapp/).

Every test here runs with the test app's registry as the project's
(REALTIME_API_REGISTRY) and with its URLs, so the project's own
`config.asgi.application` serves and broadcasts folders and notes; the
daphne servers and shells a test starts get the same from `testapp.settings`.
"""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from realtime_api.testing.live_server import DaphneServer, UvicornServer

from .testapp.models import Folder, Note
from .testapp.settings import REALTIME_API_REGISTRY, ROOT_URLCONF

# What a daphne server or a shell started by a test needs to serve the test app.
SERVER_ENV = {"DJANGO_SETTINGS_MODULE": "tests.realtime.testapp.settings"}


@pytest.fixture(autouse=True)
def testapp_streams(settings):
    """The test app's registry and URLs, for every test of the framework."""
    settings.REALTIME_API_REGISTRY = REALTIME_API_REGISTRY
    settings.ROOT_URLCONF = ROOT_URLCONF


@pytest.fixture
def testapp_servers(daphne_servers):
    """`daphne_servers` that serve the test app: `start(env=None)`."""
    return lambda env=None: daphne_servers(env={**SERVER_ENV, **(env or {})})


@pytest.fixture(params=[DaphneServer, UvicornServer], ids=["daphne", "uvicorn"])
def each_server(request, transactional_db):
    """Like `testapp_servers`, once on daphne and once on uvicorn.

    For the tests of the protocol's limits and close codes, which must hold
    on both servers (README, "Which server").
    """
    servers = []

    def start(env=None):
        server = request.param(env={**SERVER_ENV, **(env or {})}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def testapp_server(testapp_servers):
    """One daphne server serving the test app; `.url` is ws://HOST:PORT."""
    return testapp_servers()


@pytest.fixture
def other(db, django_user_model):
    """A second user: in `world`, the owner of one folder and its note."""
    return django_user_model.objects.create_user(username="other", password="pw")


@pytest.fixture
def world(user, other):
    """Public and private folders of `user`, with notes, and one of `other`."""
    public = Folder.objects.create(name="Apples", owner=user)
    private = Folder.objects.create(name="Secrets", owner=user, is_private=True)
    others = Folder.objects.create(name="Bananas", owner=other)
    texts = ["apple pie", "banana split", "apple tart", "cherry", "plum"]
    notes = [Note.objects.create(folder=public, author=user, text=t) for t in texts]
    return SimpleNamespace(
        public_folder=public,
        private_folder=private,
        others_folder=others,
        public_note=notes[0],
        notes=notes,
        private_note=Note.objects.create(
            folder=private, author=user, text="secret apple"
        ),
        others_note=Note.objects.create(folder=others, author=other, text="hi"),
    )


@pytest.fixture
def users(user, other, admin):
    """The users by role (anonymous is None)."""
    return {"anonymous": None, "other": other, "owner": user, "staff": admin}


@pytest.fixture
def actor(request, users):
    """The user whose role an indirect `actor` parameter names."""
    return users[request.param]


@pytest.fixture
def clear_cache():
    """An empty cache before and after the test (throttles count in it)."""
    cache.clear()
    yield
    cache.clear()
