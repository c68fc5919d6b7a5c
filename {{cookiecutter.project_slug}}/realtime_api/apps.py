from django.apps import AppConfig
from django.core import checks


class RealtimeApiConfig(AppConfig):
    name = "realtime_api"
    verbose_name = "Realtime API"

    def ready(self):
        from . import broadcast, metrics, sessions

        # Every save and delete asks the registry whether it matters, so a
        # shell, the admin and a management command broadcast too.
        broadcast.connect()
        sessions.connect_signals()
        metrics.setup()
        checks.register(check_registry)
        checks.register(check_ticket_seconds)
        checks.register(check_presence_seconds)
        checks.register(check_extra_actions)


def check_registry(app_configs, **kwargs):
    """`manage.py check` imports the registry: a broken stream fails at once."""
    from django.core.exceptions import ImproperlyConfigured

    from .registry import get_registry

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

    from .registry import get_registry
    from .view_adapter import check_extra_actions as check_adapter

    try:
        registry = get_registry()
    except (ImportError, ImproperlyConfigured):
        return []  # check_registry reports it.
    return [message for adapter in registry for message in check_adapter(adapter)]


def check_ticket_seconds(app_configs, **kwargs):
    """A ticket must expire within a minute (PROTOCOL.md: at most 60 s)."""
    from . import conf

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
    from . import conf

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
