"""Prometheus metrics of the socket API, and the /metrics view that serves them.

Every metric is defined here; the app calls the helpers below, one line at
each place where something happens.

With several server processes, set PROMETHEUS_MULTIPROC_DIR (the same empty
directory for every process of a host, before they start): each process
then writes its figures to files there, and /metrics, whichever process
answers it, reports the sum over the host's processes (prometheus_client's
multiprocess mode). A load balancer picks the process that answers a scrape,
so only that sum is a meaningful answer; counters of a restarted process
stay in it. Without the variable (one process: runserver, tests) each
process reports its own figures.
https://prometheus.github.io/client_python/multiprocess/
"""

import atexit
import hmac
import os
import time
from pathlib import Path

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from realtime_api import conf
from realtime_api.protocol import ACTIONS

# Gauges add up the processes that are alive ("livesum"); a dead process's
# share is removed (see `setup()`).
CONNECTIONS = Gauge(
    "realtime_websocket_connections",
    "WebSockets open now.",
    multiprocess_mode="livesum",
)
CLOSES = Counter(
    "realtime_websocket_closes",
    "WebSockets closed, by close code.",
    ["code"],
)
FRAMES = Counter(
    "realtime_frames",
    "Request frames answered, by stream, action and response status.",
    ["stream", "action", "status"],
)
REQUEST_SECONDS = Histogram(
    "realtime_request_duration_seconds",
    "Time from a request frame to its response, by stream and action.",
    ["stream", "action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter(
    "realtime_events_published",
    "Changes logged (with their seq) and sent to every process, by stream.",
    ["stream"],
)
EVENTS_DELIVERED = Counter(
    "realtime_events_delivered",
    "Live event frames handed to sockets (subscriptions and watches), by stream.",
    ["stream"],
)
EVENTS_DROPPED = Counter(
    "realtime_events_dropped",
    "Events lost, by stream and stage: 'publish' (a committed change not sent, "
    "so no seq and no replay) or 'deliver' (a change not evaluated or sent here).",
    ["stream", "stage"],
)
SUBSCRIPTIONS = Gauge(
    "realtime_subscriptions",
    "Subscriptions active now (one per filter and socket), by stream.",
    ["stream"],
    multiprocess_mode="livesum",
)
WATCHES = Gauge(
    "realtime_watches",
    "Live queries watched now (one per watch and socket), by stream.",
    ["stream"],
    multiprocess_mode="livesum",
)
PRESENT_SOCKETS = Gauge(
    "realtime_presence_sockets",
    "Sockets present on an object now (one per object and socket), by stream.",
    ["stream"],
    multiprocess_mode="livesum",
)

OVERLOAD = Counter(
    "realtime_overload",
    "Frames refused and sockets closed to bound what one socket costs, by kind: "
    "'rate', 'pending', 'subscriptions', 'watches' (429 answers), 'flooding' "
    "(closed with 4008), 'slow_consumer' (closed with 4009); handshakes "
    "refused: 'sockets' and 'handshake_rate' (429), 'handshake_in_flight' (503).",
    ["kind"],
)

UNKNOWN = "unknown"


# --- Hooks -------------------------------------------------------------------------


def socket_opened():
    """Count an accepted socket; returns True, for the socket to remember."""
    CONNECTIONS.inc()
    return True


def socket_closed(code, opened):
    """Count a closed socket (`opened`: it was counted by socket_opened)."""
    if opened:
        CONNECTIONS.dec()
    CLOSES.labels(close_code_label(code)).inc()


def frame_answered(registry, frame, started):
    """Count a response (frame.status) and the time since `started`."""
    # Labels come from what clients send: only known values, or the number of
    # series (and the server's memory) would be the client's to choose.
    stream = frame.stream if frame.stream in registry else UNKNOWN
    action = frame.action if frame.action in ACTIONS else UNKNOWN
    FRAMES.labels(stream, action, str(frame.status)).inc()
    REQUEST_SECONDS.labels(stream, action).observe(time.perf_counter() - started)


def event_published(stream):
    EVENTS_PUBLISHED.labels(stream).inc()


def events_delivered(stream, count):
    if count:
        EVENTS_DELIVERED.labels(stream).inc(count)


def events_dropped(streams, stage):
    """Count lost events: one per stream name in `streams`."""
    for stream in streams:
        EVENTS_DROPPED.labels(stream, stage).inc()


def overload(kind):
    """Count a refusal or a close of the limits (see OVERLOAD)."""
    OVERLOAD.labels(kind).inc()


def close_code_label(code):
    """The close code as a label: the standard codes and 4000-4099, else "other"."""
    if isinstance(code, int) and (1000 <= code <= 1015 or 4000 <= code <= 4099):
        return str(code)
    return "other"


# --- Several processes -------------------------------------------------------------


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def setup():
    """In multiprocess mode, drop the gauges of dead processes, ours at exit.

    A process that exits (or crashed) would otherwise count its open
    sockets, subscriptions and watches for ever.
    """
    directory = multiprocess_dir()
    if directory is None:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not process_alive(pid):
            multiprocess.mark_process_dead(pid, directory)
    atexit.register(lambda: multiprocess.mark_process_dead(os.getpid(), directory))


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # Another user's process.
    return True


# --- The view ------------------------------------------------------------------------


def metrics_view(request):
    """The metrics in Prometheus' text format, for staff and the bearer token.

    A scraper sends `Authorization: Bearer <METRICS_TOKEN>`; a staff user's
    browser session works too. Anyone else gets a 401 (403 when logged in).
    """
    if not (has_metrics_token(request) or request.user.is_staff):
        if request.user.is_authenticated:
            return HttpResponse("Staff only.\n", status=403, content_type="text/plain")
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>, or log in as staff.\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = REGISTRY
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def has_metrics_token(request):
    token = conf.metrics_token()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
