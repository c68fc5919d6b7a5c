"""The bench server's settings: the project's development settings, plus the
equal-work comparison's app (bench/peer/) and the registry that serves it.

    DJANGO_SETTINGS_MODULE=bench.settings python manage.py migrate bench_peer
    DJANGO_SETTINGS_MODULE=bench.settings daphne bench.asgi:application

Only these settings install bench.peer: `manage.py migrate` with the
project's own settings never creates the bench's tables.
"""

from config.settings.dev import *  # noqa: F403
from config.settings.dev import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.peer"]

# As in production: with DEBUG on, Django keeps every query of a connection
# (connection.queries) and the figures would count that too.
DEBUG = False

# The project's streams plus `peer-comments` (bench/peer/streams.py).
REALTIME_API_REGISTRY = "bench.peer.streams.registry"
