"""bench.asgi's application, with the test-only streams of logentries.py."""

from bench.asgi import application  # First: it sets Django up.

from . import logentries  # noqa: F401  (registers the streams)

__all__ = ["application"]
