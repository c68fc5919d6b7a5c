from django.apps import AppConfig


class PeerConfig(AppConfig):
    name = "bench.peer"
    # Prefixed: a project may well have an app called `peer` of its own.
    label = "bench_peer"
    verbose_name = "Bench: equal-work peers"
    default_auto_field = "django.db.models.BigAutoField"
