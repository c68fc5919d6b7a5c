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


def presence_heartbeat_seconds():
    """How often a process refreshes its presence entries and re-reads its rooms."""
    return getattr(settings, "REALTIME_API_PRESENCE_HEARTBEAT_SECONDS", 5)


def presence_ttl_seconds():
    """How long presence entries outlive their process's last refresh.

    A process that dies takes its sockets' presence with it within this plus
    one heartbeat (PROTOCOL.md: 30 s at most; 20 s by default).
    """
    return getattr(settings, "REALTIME_API_PRESENCE_TTL_SECONDS", 15)


def presence_grace_seconds():
    """How long a user whose last socket closed stays present (a page reload)."""
    return getattr(settings, "REALTIME_API_PRESENCE_GRACE_SECONDS", 2)


def presence_signal_rate():
    """Signals a socket may send: (per second, burst)."""
    rate = getattr(settings, "REALTIME_API_PRESENCE_SIGNALS_PER_SECOND", 5)
    burst = getattr(settings, "REALTIME_API_PRESENCE_SIGNAL_BURST", 10)
    return rate, burst


def presence_max_rooms():
    """How many objects one socket may be present on at once."""
    return getattr(settings, "REALTIME_API_PRESENCE_MAX_ROOMS", 20)


# --- Limits and overload (PROTOCOL.md) -----------------------------------------
# Each bounds what one socket may cost; see realtime_api/limits/overload.py.


def frame_rate():
    """Frames a second a socket may send on average (None: no limit)."""
    return getattr(settings, "REALTIME_API_FRAME_RATE", 50)


def frame_burst():
    """Frames a socket may send at once, above its rate."""
    return getattr(settings, "REALTIME_API_FRAME_BURST", 150)


def max_pending_frames():
    """Frames of a socket waiting to be answered; more are refused (429)."""
    return getattr(settings, "REALTIME_API_MAX_PENDING_FRAMES", 128)


def max_subscriptions():
    """Subscriptions (filters) a socket may hold at once."""
    return getattr(settings, "REALTIME_API_MAX_SUBSCRIPTIONS", 100)


def max_watches():
    """Live queries a socket may watch at once."""
    return getattr(settings, "REALTIME_API_MAX_WATCHES", 20)


# --- Budgets per user and per address (realtime_api/limits/budgets.py) ---------------


def max_sockets_per_user():
    """Sockets one user may hold open in a server process (0: no limit)."""
    return getattr(settings, "REALTIME_API_MAX_SOCKETS_PER_USER", 20)


def max_sockets_per_address():
    """Anonymous sockets one client address may hold open in a process (0: none)."""
    return getattr(settings, "REALTIME_API_MAX_SOCKETS_PER_ADDRESS", 50)


def user_frame_rate():
    """Frames a second a user's (or address's) sockets may send together."""
    return getattr(settings, "REALTIME_API_USER_FRAME_RATE", 100)


def user_frame_burst():
    """Frames a user's (or address's) sockets may send at once, together."""
    return getattr(settings, "REALTIME_API_USER_FRAME_BURST", 300)


def user_signal_rate():
    """Signals a user's (or address's) sockets may send: (per second, burst)."""
    rate = getattr(settings, "REALTIME_API_USER_SIGNALS_PER_SECOND", 10)
    burst = getattr(settings, "REALTIME_API_USER_SIGNAL_BURST", 20)
    return rate, burst


def max_subscriptions_per_user():
    """Subscriptions a user's (or address's) sockets may hold together."""
    return getattr(settings, "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER", 500)


def max_watches_per_user():
    """Live queries a user's (or address's) sockets may hold together."""
    return getattr(settings, "REALTIME_API_MAX_WATCHES_PER_USER", 100)


def trusted_proxies():
    """Proxies (addresses, networks) whose X-Real-IP/X-Forwarded-For is believed."""
    return list(getattr(settings, "REALTIME_API_TRUSTED_PROXIES", ()))


def max_replay_changes():
    """Objects a `since` replay may evaluate (a recheck counts 20), then a gap."""
    return getattr(settings, "REALTIME_API_MAX_REPLAY_CHANGES", 2000)


def max_watch_matches():
    """Objects a live query may match when it starts; past them it is refused (400)."""
    return getattr(settings, "REALTIME_API_MAX_WATCH_MATCHES", 10_000)


def view_threads():
    """Threads running the views of socket requests (None: 1 on SQLite, else 4)."""
    return getattr(settings, "REALTIME_API_VIEW_THREADS", None)


def auth_threads():
    """Threads authenticating Authorization headers other than Basic (auth_pool)."""
    return getattr(settings, "REALTIME_API_AUTH_THREADS", 2)


def password_threads():
    """Threads checking `Authorization: Basic` passwords (auth_pool.py)."""
    return getattr(settings, "REALTIME_API_PASSWORD_THREADS", 1)


def auth_queue():
    """Handshakes waiting for an authentication thread; past them, refused."""
    return getattr(settings, "REALTIME_API_AUTH_QUEUE", 8)


def max_queued_bytes():
    """Bytes waiting to be sent to a socket; past them it is closed with 4009."""
    return getattr(settings, "REALTIME_API_MAX_QUEUED_BYTES", 1024 * 1024)


def event_log_bytes():
    """The in-process event log's size per stream, in bytes (an estimate)."""
    return getattr(settings, "REALTIME_API_EVENT_LOG_BYTES", 4 * 1024 * 1024)


def single_process():
    """The deployment runs one process: a process-local channel layer is fine."""
    return bool(getattr(settings, "REALTIME_API_SINGLE_PROCESS", False))


def process_local_layer():
    """Is the default channel layer (or the event log) in this process's memory?"""
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    backend = layer.get("BACKEND", "channels.layers.InMemoryChannelLayer")
    return backend.endswith(".InMemoryChannelLayer") or redis_url() is None
