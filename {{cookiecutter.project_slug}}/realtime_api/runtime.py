"""What a registry runs on one event loop: publisher, hub, event log, view threads."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from realtime_api import conf
from realtime_api.delivery.eventlog import event_log_from_settings
from realtime_api.delivery.hub import Hub
from realtime_api.delivery.publisher import Publisher
from realtime_api.limits.budgets import Budgets
from realtime_api.limits.flood import FloodLedger
from realtime_api.streams.view_threads import ViewThreads, default_count

if TYPE_CHECKING:
    from realtime_api.streams.registry import Registry


class Runtime:
    """The live parts of one registry on one event loop (one per server process).

    Sockets get it from their registry (`registry.runtime()`) and pass it on;
    nothing else finds it.
    """

    def __init__(self, registry: Registry) -> None:
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
        from realtime_api.presence.hub import PresenceHub

        return PresenceHub(self)
