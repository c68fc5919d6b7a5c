"""bench.asgi's application serving bench/settings.py's registry, on the test
database: what `python -m bench --peers` drives in test_peers_bench.py.

(The test settings install bench.peer already; its registry is the one
setting of bench/settings.py they lack.)
"""

from django.test.utils import override_settings

from bench.asgi import application  # First: it sets Django up.

override_settings(REALTIME_API_REGISTRY="bench.peer.streams.registry").enable()

__all__ = ["application"]
