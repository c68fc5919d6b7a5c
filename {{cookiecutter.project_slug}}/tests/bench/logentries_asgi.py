"""bench.asgi's application, serving and broadcasting the streams of logentries.py."""

from django.test.utils import override_settings

from bench.asgi import application  # First: it sets Django up.

# This test server's registry is logentries.py's (not config/realtime.py's).
override_settings(REALTIME_API_REGISTRY="tests.bench.logentries.registry").enable()

__all__ = ["application"]
