"""The app's settings, with their defaults."""

from django.conf import settings


def registry_path():
    """The dotted path of the project's Registry (config/realtime.py)."""
    return getattr(settings, "REALTIME_API_REGISTRY", "config.realtime.registry")


def websocket_path():
    """The path of the multiplexed socket, "ws/" by default."""
    return getattr(settings, "REALTIME_API_PATH", "ws/")


def max_frame_bytes():
    """The largest request frame accepted; larger frames get a 413."""
    return getattr(settings, "REALTIME_API_MAX_FRAME_BYTES", 64 * 1024)


def broadcast_host():
    """The Host of the request that serializes events (for absolute URLs)."""
    host = getattr(settings, "REALTIME_API_BROADCAST_HOST", None)
    if host:
        return host
    concrete = [h for h in settings.ALLOWED_HOSTS if "*" not in h and h[:1] != "."]
    return concrete[0] if concrete else "localhost"


def redis_url():
    """Where the shared event log lives; None keeps it in each process."""
    return getattr(settings, "REALTIME_API_REDIS_URL", None)


def event_log_size():
    """How many events of each stream the log keeps for `since`."""
    return getattr(settings, "REALTIME_API_EVENT_LOG_SIZE", 10_000)


def event_log_seconds():
    """How long (seconds) the log keeps an event for `since`."""
    return getattr(settings, "REALTIME_API_EVENT_LOG_SECONDS", 600)


def redis_prefix():
    """The prefix of the event log's keys in Redis (one per project)."""
    return getattr(settings, "REALTIME_API_REDIS_PREFIX", "realtime")


def allowed_origins():
    """Origins (besides ALLOWED_HOSTS) whose pages may open a socket with a ticket.

    Full origins such as "https://app.example.com", or patterns as Channels'
    OriginValidator reads them ("https://.example.com" for every subdomain).
    """
    return list(getattr(settings, "REALTIME_API_ALLOWED_ORIGINS", ()))


def ticket_seconds():
    """How long a ticket from POST /api/realtime/ticket/ stays usable (1 to 60)."""
    return getattr(settings, "REALTIME_API_TICKET_SECONDS", 30)


def metrics_token():
    """The bearer token that may read /metrics (None: staff sessions only)."""
    return getattr(settings, "REALTIME_API_METRICS_TOKEN", None)
