"""What a registry runs on one event loop: publisher, hub, event log, view threads."""

from functools import cached_property

from channels.layers import get_channel_layer

from . import conf
from .budgets import Budgets
from .eventlog import event_log_from_settings
from .flood import FloodLedger
from .hub import Hub
from .publisher import Publisher
from .view_threads import ViewThreads, default_count


class Runtime:
    """The live parts of one registry on one event loop (one per server process).

    Sockets get it from their registry (`registry.runtime()`) and pass it on;
    nothing else finds it.
    """

    def __init__(self, registry):
        self.registry = registry
        self.layer = get_channel_layer()
        self.event_log = event_log_from_settings()
        self.publisher = Publisher(self)
        self.hub = Hub(self)
        self.flood_ledger = FloodLedger()
        self.budgets = Budgets()
        self.view_threads = ViewThreads(conf.view_threads() or default_count())

    @cached_property
    def presence(self):
        """Who is present on which object (made when a socket first joins one)."""
        from .presence_hub import PresenceHub

        return PresenceHub(self)
