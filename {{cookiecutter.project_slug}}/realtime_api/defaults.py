"""The default of every REALTIME_API_* setting, written once.

`conf.py` reads the settings with these defaults; config/settings/base.py
reads the environment with them; tests/test_settings_defaults.py checks that
.env.example and the README's limits table say the same. Plain data, no
Django: the settings import it before Django is set up.
"""

DEFAULTS = {
    # The streams and the socket's path.
    "REALTIME_API_REGISTRY": "config.realtime.registry",
    "REALTIME_API_PATH": "ws/",
    "REALTIME_API_MAX_FRAME_BYTES": 64 * 1024,
    "REALTIME_API_BROADCAST_HOST": None,
    # The event log (`since`), and Redis.
    "REALTIME_API_REDIS_URL": None,
    "REALTIME_API_REDIS_PREFIX": "realtime",
    "REALTIME_API_EVENT_LOG_SIZE": 10_000,
    "REALTIME_API_EVENT_LOG_SECONDS": 600,
    "REALTIME_API_EVENT_LOG_BYTES": 4 * 1024 * 1024,
    "REALTIME_API_SINGLE_PROCESS": False,
    # Presence.
    "REALTIME_API_PRESENCE_HEARTBEAT_SECONDS": 5,
    "REALTIME_API_PRESENCE_TTL_SECONDS": 15,
    "REALTIME_API_PRESENCE_GRACE_SECONDS": 2,
    "REALTIME_API_PRESENCE_SIGNALS_PER_SECOND": 5,
    "REALTIME_API_PRESENCE_SIGNAL_BURST": 10,
    "REALTIME_API_PRESENCE_MAX_ROOMS": 20,
    # What one socket may cost (PROTOCOL.md, "Limits and overload").
    "REALTIME_API_FRAME_RATE": 50,
    "REALTIME_API_FRAME_BURST": 150,
    "REALTIME_API_MAX_PENDING_FRAMES": 128,
    "REALTIME_API_MAX_SUBSCRIPTIONS": 100,
    "REALTIME_API_MAX_WATCHES": 20,
    "REALTIME_API_MAX_QUEUED_BYTES": 1024 * 1024,
    "REALTIME_API_MAX_WATCH_MATCHES": 10_000,
    "REALTIME_API_MAX_REPLAY_CHANGES": 2000,
    # What all of one user's (or anonymous address's) sockets may cost.
    "REALTIME_API_MAX_SOCKETS_PER_USER": 20,
    "REALTIME_API_MAX_SOCKETS_PER_ADDRESS": 50,
    "REALTIME_API_USER_FRAME_RATE": 100,
    "REALTIME_API_USER_FRAME_BURST": 300,
    "REALTIME_API_USER_SIGNALS_PER_SECOND": 10,
    "REALTIME_API_USER_SIGNAL_BURST": 20,
    "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER": 500,
    "REALTIME_API_MAX_WATCHES_PER_USER": 100,
    "REALTIME_API_TRUSTED_PROXIES": (),
    # Handshakes: how fast one address may open sockets, how many at once.
    "REALTIME_API_HANDSHAKE_RATE_PER_ADDRESS": 20,
    "REALTIME_API_HANDSHAKE_BURST_PER_ADDRESS": 200,
    "REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT": 200,
    # Wrong Basic passwords one address may try, and over how many seconds.
    "REALTIME_API_PASSWORD_FAILURES_PER_ADDRESS": 10,
    "REALTIME_API_PASSWORD_FAILURE_SECONDS": 300,
    # Threads.
    "REALTIME_API_VIEW_THREADS": 0,  # 0: one on SQLite, four on PostgreSQL
    "REALTIME_API_AUTH_THREADS": 2,
    "REALTIME_API_PASSWORD_THREADS": 1,
    "REALTIME_API_AUTH_QUEUE": 8,
    # Origins, tickets, metrics.
    "REALTIME_API_ALLOWED_ORIGINS": (),
    "REALTIME_API_TICKET_SECONDS": 30,
    "REALTIME_API_METRICS_TOKEN": None,
}
