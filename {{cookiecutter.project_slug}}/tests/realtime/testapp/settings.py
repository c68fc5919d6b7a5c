"""The test settings, serving the test app: for the processes a test starts.

Daphne servers and shells started by the framework's tests use these
(DJANGO_SETTINGS_MODULE), as `tests/realtime/conftest.py` does in-process.
"""

from config.settings.test import *  # noqa: F403

REALTIME_API_REGISTRY = "tests.realtime.testapp.streams.registry"
ROOT_URLCONF = "tests.realtime.testapp.urls"
