from django.apps import AppConfig
from django.core import checks


class RealtimeApiConfig(AppConfig):
    name = "realtime_api"
    verbose_name = "Realtime API"

    def ready(self):
        from realtime_api.auth import revocation as sessions
        from realtime_api.delivery import broadcast
        from realtime_api.ops import metrics
        from realtime_api.sockets import autobahn_config_log

        # Every save and delete asks the registry whether it matters, so a
        # shell, the admin and a management command broadcast too.
        broadcast.connect()
        sessions.connect_signals()
        metrics.setup()
        # daphne's handshakes: no config text made for a DEBUG line not logged.
        autobahn_config_log.install()
        checks.register(check_registry)
        checks.register(check_ticket_seconds)
        checks.register(check_presence_seconds)
        checks.register(check_shared_layer, deploy=True)
        checks.register(check_ticket_origins)
        checks.register(check_extra_actions)


def check_registry(app_configs, **kwargs):
    """`manage.py check` imports the registry: a broken stream fails at once."""
    from django.core.exceptions import ImproperlyConfigured

    from realtime_api.streams.registry import get_registry

    try:
        get_registry()
    except (ImportError, ImproperlyConfigured) as exc:
        return [
            checks.Error(
                f"The realtime registry cannot be loaded: {exc}",
                hint="Check REALTIME_API_REGISTRY and the streams it registers.",
                id="realtime_api.E001",
            )
        ]
    return []


def check_extra_actions(app_configs, **kwargs):
    """An @action named like a protocol verb cannot be reached: refuse to start."""
    from django.core.exceptions import ImproperlyConfigured

    from realtime_api.streams.registry import get_registry
    from realtime_api.streams.view_adapter import check_extra_actions as check_adapter

    try:
        registry = get_registry()
    except (ImportError, ImproperlyConfigured):
        return []  # check_registry reports it.
    return [message for adapter in registry for message in check_adapter(adapter)]


def check_ticket_seconds(app_configs, **kwargs):
    """A ticket must expire within a minute (PROTOCOL.md: at most 60 s)."""
    from realtime_api import conf

    seconds = conf.ticket_seconds()
    if isinstance(seconds, int) and 1 <= seconds <= 60:
        return []
    return [
        checks.Error(
            f"REALTIME_API_TICKET_SECONDS is {seconds!r}.",
            hint="Give tickets 1 to 60 seconds (an integer): 30 is the default.",
            id="realtime_api.E002",
        )
    ]


def check_presence_seconds(app_configs, **kwargs):
    """A dead process's presence must end within 30 s (PROTOCOL.md)."""
    from realtime_api import conf

    heartbeat = conf.presence_heartbeat_seconds()
    ttl = conf.presence_ttl_seconds()
    numbers = all(isinstance(v, int | float) for v in (heartbeat, ttl))
    if numbers and 0 < heartbeat < ttl and ttl + heartbeat <= 30:
        return []
    return [
        checks.Error(
            f"REALTIME_API_PRESENCE_HEARTBEAT_SECONDS is {heartbeat!r} and "
            f"REALTIME_API_PRESENCE_TTL_SECONDS is {ttl!r}.",
            hint="Refresh presence more often than it expires, and keep the two "
            "within 30 s together (a dead process's sockets stay present that "
            "long): 5 and 15 are the defaults.",
            id="realtime_api.E003",
        )
    ]


def check_shared_layer(app_configs, **kwargs):
    """`check --deploy`: several processes need a shared (Redis) channel layer.

    With the in-memory layer each process hears only its own events: a
    change made in another process (the second daphne, a shell, a management
    command) never reaches this one's sockets, nor does a revocation (a
    logout, a deleted token). Only a deployment of one process may run so,
    and it must say so (REALTIME_API_SINGLE_PROCESS).
    """
    from realtime_api import conf

    if conf.single_process() or not conf.process_local_layer():
        return []
    return [
        checks.Error(
            "REDIS_URL is not set: the channel layer and the event log live in "
            "each process's memory, so events and revocations made in another "
            "process (a second server, a shell, a management command) never "
            "reach this process's sockets.",
            hint="Set REDIS_URL (e.g. redis://127.0.0.1:6379/0), or "
            "REALTIME_API_SINGLE_PROCESS=true if this deployment runs exactly "
            "one server process and nothing else writes.",
            id="realtime_api.E004",
        )
    ]


def check_ticket_origins(app_configs, **kwargs):
    """REALTIME_API_ALLOWED_ORIGINS holds full origins, as CSRF_TRUSTED_ORIGINS.

    An entry without a scheme ("app.example.com") would never match an
    Origin: say so rather than refuse its tickets silently.
    """
    from realtime_api import conf

    wrong = [o for o in conf.allowed_origins() if "://" not in o]
    if not wrong:
        return []
    return [
        checks.Error(
            f"REALTIME_API_ALLOWED_ORIGINS has entries without a scheme: {wrong}.",
            hint="Write full origins, e.g. 'https://app.example.com' or "
            "'https://*.example.com' (as CSRF_TRUSTED_ORIGINS).",
            id="realtime_api.E005",
        )
    ]
