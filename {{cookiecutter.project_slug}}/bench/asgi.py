"""The project's ASGI application plus the reference endpoint, for benchmarks.

    daphne bench.asgi:application
    uvicorn bench.asgi:application

serves everything `config.asgi` (settings.ASGI_APPLICATION) serves, and
`bench.reference.MinimalConsumer` at `/bench/minimal/`, behind the same
Origin check and session authentication as the API's sockets. Run it from the
project folder. Never deploy it: the reference endpoint checks no
permissions and writes whichever model its client names.

With bench/settings.py (the equal-work comparison, `python -m bench
--peers`), it also serves the peer app's bare consumer at
`/bench/peer/minimal/` and, when the `bench-peers` extra is installed,
DCRF's at `/bench/peer/dcrf/`.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# The load is one user (or a few) on one address, with hundreds of sockets:
# the budgets per user and per address (realtime_api/limits/budgets.py) are lifted
# unless the environment sets them (a noisy-neighbour run measures them).
# So is the handshake rate per address; the bound on handshakes in flight per
# process stays (a reconnect storm measures it: REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT=0
# turns it off).
os.environ.setdefault("REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS", "0")
os.environ.setdefault("REALTIME_API_MAX_SOCKETS_PER_USER", "0")
os.environ.setdefault("REALTIME_API_MAX_SOCKETS_PER_ADDRESS", "0")
os.environ.setdefault("REALTIME_API_USER_FRAME_RATE", "0")
os.environ.setdefault("REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER", "0")
os.environ.setdefault("REALTIME_API_MAX_WATCHES_PER_USER", "0")

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string

# Importing the project's application sets Django up.
project_application = import_string(settings.ASGI_APPLICATION)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from . import PEER_BARE_PATH, PEER_DCRF_PATH, REFERENCE_PATH  # noqa: E402
from .reference import MinimalConsumer  # noqa: E402


def guarded(consumer):
    """A bench consumer behind the API sockets' Origin check and sessions."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(consumer.as_asgi()))


# Path -> application of each socket the bench serves besides the project's.
bench_sockets = {REFERENCE_PATH: guarded(MinimalConsumer)}
if apps.is_installed("bench.peer"):
    from .peer.consumers import BareCommentConsumer

    bench_sockets[PEER_BARE_PATH] = guarded(BareCommentConsumer)
    try:
        from .peer.dcrf import DcrfCommentConsumer
    except ModuleNotFoundError as exc:
        # The comparison reports DCRF's column as skipped, and says why.
        if exc.name != "djangochannelsrestframework":
            raise
    else:
        bench_sockets[PEER_DCRF_PATH] = guarded(DcrfCommentConsumer)


async def application(scope, receive, send):
    """Route the bench's own sockets to their consumers, the rest to the project."""
    if scope["type"] == "websocket" and scope["path"] in bench_sockets:
        return await bench_sockets[scope["path"]](scope, receive, send)
    return await project_application(scope, receive, send)
