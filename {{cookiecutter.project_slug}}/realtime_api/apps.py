from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class RealtimeApiConfig(AppConfig):
    name = "realtime_api"
    verbose_name = "Realtime API"

    def ready(self):
        # Endpoints register themselves (and their broadcast signals) in each
        # app's consumers.py. Importing them here, not in routing.py, means
        # that a shell or a management command broadcasts too.
        autodiscover_modules("consumers")

        from . import sessions

        sessions.connect_signals()
