"""The app's settings, each with its default from defaults.py."""

from typing import Any

from django.conf import settings

from realtime_api.defaults import DEFAULTS


def _setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def registry_path() -> str:
    """The dotted path of the project's Registry (config/realtime.py)."""
    return _setting("REALTIME_API_REGISTRY")


def websocket_path() -> str:
    """The path of the multiplexed socket, "ws/" by default."""
    return _setting("REALTIME_API_PATH")


def max_frame_bytes() -> int:
    """The largest request frame accepted; larger frames get a 413."""
    return _setting("REALTIME_API_MAX_FRAME_BYTES")


def broadcast_host() -> str:
    """The Host of the request that serializes events (for absolute URLs)."""
    host = _setting("REALTIME_API_BROADCAST_HOST")
    if host:
        return host
    concrete = [h for h in settings.ALLOWED_HOSTS if "*" not in h and h[:1] != "."]
    return concrete[0] if concrete else "localhost"


def redis_url() -> str | None:
    """Where the shared event log lives; None keeps it in each process."""
    return _setting("REALTIME_API_REDIS_URL")


def event_log_size() -> int:
    """How many events of each stream the log keeps for `since`."""
    return _setting("REALTIME_API_EVENT_LOG_SIZE")


def event_log_seconds() -> float:
    """How long (seconds) the log keeps an event for `since`."""
    return _setting("REALTIME_API_EVENT_LOG_SECONDS")


def redis_prefix() -> str:
    """The prefix of the event log's keys in Redis (one per project)."""
    return _setting("REALTIME_API_REDIS_PREFIX")


def allowed_origins() -> list[str]:
    """Origins (besides ALLOWED_HOSTS) whose pages may open a socket with a ticket.

    Full origins such as "https://app.example.com", or patterns as Channels'
    OriginValidator reads them ("https://.example.com" for every subdomain).
    """
    return list(_setting("REALTIME_API_ALLOWED_ORIGINS"))


def ticket_seconds() -> int:
    """How long a ticket from POST /api/realtime/ticket/ stays usable (1 to 60)."""
    return _setting("REALTIME_API_TICKET_SECONDS")


def metrics_token() -> str | None:
    """The bearer token that may read /metrics (None: staff sessions only)."""
    return _setting("REALTIME_API_METRICS_TOKEN")


def presence_heartbeat_seconds() -> float:
    """How often a process refreshes its presence entries and re-reads its rooms."""
    return _setting("REALTIME_API_PRESENCE_HEARTBEAT_SECONDS")


def presence_ttl_seconds() -> float:
    """How long presence entries outlive their process's last refresh.

    A process that dies takes its sockets' presence with it within this plus
    one heartbeat (PROTOCOL.md: 30 s at most; 20 s by default).
    """
    return _setting("REALTIME_API_PRESENCE_TTL_SECONDS")


def presence_grace_seconds() -> float:
    """How long a user whose last socket closed stays present (a page reload)."""
    return _setting("REALTIME_API_PRESENCE_GRACE_SECONDS")


def presence_signal_rate() -> tuple[float, int]:
    """Signals a socket may send: (per second, burst)."""
    rate = _setting("REALTIME_API_PRESENCE_SIGNALS_PER_SECOND")
    burst = _setting("REALTIME_API_PRESENCE_SIGNAL_BURST")
    return rate, burst


def presence_max_rooms() -> int:
    """How many objects one socket may be present on at once."""
    return _setting("REALTIME_API_PRESENCE_MAX_ROOMS")


# --- Limits and overload (PROTOCOL.md) -----------------------------------------
# Each bounds what one socket may cost; see realtime_api/limits/overload.py.


def frame_rate() -> float | None:
    """Frames a second a socket may send on average (None: no limit)."""
    return _setting("REALTIME_API_FRAME_RATE")


def frame_burst() -> int:
    """Frames a socket may send at once, above its rate."""
    return _setting("REALTIME_API_FRAME_BURST")


def max_pending_frames() -> int:
    """Frames of a socket waiting to be answered; more are refused (429)."""
    return _setting("REALTIME_API_MAX_PENDING_FRAMES")


def max_subscriptions() -> int:
    """Subscriptions (filters) a socket may hold at once."""
    return _setting("REALTIME_API_MAX_SUBSCRIPTIONS")


def max_watches() -> int:
    """Live queries a socket may watch at once."""
    return _setting("REALTIME_API_MAX_WATCHES")


# --- Budgets per user and per address (realtime_api/limits/budgets.py) ---------------


def max_sockets_per_user() -> int:
    """Sockets one user may hold open in a server process (0: no limit)."""
    return _setting("REALTIME_API_MAX_SOCKETS_PER_USER")


def max_sockets_per_address() -> int:
    """Anonymous sockets one client address may hold open in a process (0: none)."""
    return _setting("REALTIME_API_MAX_SOCKETS_PER_ADDRESS")


def user_frame_rate() -> float | None:
    """Frames a second a user's (or address's) sockets may send together."""
    return _setting("REALTIME_API_USER_FRAME_RATE")


def user_frame_burst() -> int:
    """Frames a user's (or address's) sockets may send at once, together."""
    return _setting("REALTIME_API_USER_FRAME_BURST")


def user_signal_rate() -> tuple[float, int]:
    """Signals a user's (or address's) sockets may send: (per second, burst)."""
    rate = _setting("REALTIME_API_USER_SIGNALS_PER_SECOND")
    burst = _setting("REALTIME_API_USER_SIGNAL_BURST")
    return rate, burst


def max_subscriptions_per_user() -> int:
    """Subscriptions a user's (or address's) sockets may hold together."""
    return _setting("REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER")


def max_watches_per_user() -> int:
    """Live queries a user's (or address's) sockets may hold together."""
    return _setting("REALTIME_API_MAX_WATCHES_PER_USER")


def trusted_proxies() -> list[str]:
    """Proxies (addresses, networks) whose X-Real-IP/X-Forwarded-For is believed."""
    return list(_setting("REALTIME_API_TRUSTED_PROXIES"))


# --- Admission of handshakes (realtime_api/limits/handshake_rate.py) ------------


def handshake_rate_per_address() -> float:
    """Handshakes a second one client address may start, on average (0: no limit)."""
    return _setting("REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS")


def handshake_burst_per_address() -> int:
    """Handshakes one client address may start at once, above its rate."""
    return _setting("REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS")


def max_handshakes_in_flight() -> int:
    """Handshakes a process works on at once; more are refused 503 (0: no bound)."""
    return _setting("REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT")


def password_failures_per_address() -> int:
    """Wrong Basic passwords one address may try before it waits (0: no limit)."""
    return _setting("REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS")


def password_failure_seconds() -> float:
    """Seconds over which an address's wrong passwords are forgiven, one by one."""
    return _setting("REALTIME_API_PASSWORD_FAILURE_SECONDS")


def max_replay_changes() -> int:
    """Objects a `since` replay may evaluate (a recheck counts 20), then a gap."""
    return _setting("REALTIME_API_MAX_REPLAY_CHANGES")


def max_watch_matches() -> int:
    """Objects a live query may match when it starts; past them it is refused (400)."""
    return _setting("REALTIME_API_MAX_WATCH_MATCHES")


def view_threads() -> int:
    """Threads running the views of socket requests (0: 1 on SQLite, else 4)."""
    return _setting("REALTIME_API_VIEW_THREADS")


def auth_threads() -> int:
    """Threads authenticating Authorization headers other than Basic (auth_pool)."""
    return _setting("REALTIME_API_AUTH_THREADS")


def password_threads() -> int:
    """Threads checking `Authorization: Basic` passwords (auth_pool.py)."""
    return _setting("REALTIME_API_PASSWORD_THREADS")


def auth_queue() -> int:
    """Handshakes waiting for an authentication thread; past them, refused."""
    return _setting("REALTIME_API_AUTH_QUEUE")


def max_queued_bytes() -> int:
    """Bytes waiting to be sent to a socket; past them it is closed with 4009."""
    return _setting("REALTIME_API_MAX_QUEUED_BYTES")


def event_log_bytes() -> int:
    """The in-process event log's size per stream, in bytes (an estimate)."""
    return _setting("REALTIME_API_EVENT_LOG_BYTES")


def single_process() -> bool:
    """The deployment runs one process: a process-local channel layer is fine."""
    return bool(_setting("REALTIME_API_SINGLE_PROCESS"))


def process_local_layer() -> bool:
    """Is the default channel layer (or the event log) in this process's memory?"""
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    backend = layer.get("BACKEND", "channels.layers.InMemoryChannelLayer")
    return backend.endswith(".InMemoryChannelLayer") or redis_url() is None
