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
        self.joined = {}  # group -> the (shared) group_add of the process
        self.opening = asyncio.Lock()
        # An event sent to several groups arrives once per group joined.
        self.recent = RecentIds(4096)

    async def add(self, group, consumer):
        """Put a socket in a group (the process joins it on first use).

        Returns once the channel layer has the membership, so no event sent
        after the subscription's response can be missed.
        """
        if self.channel is None:
            await self.open()
        # In the group at once, so that a concurrent discard keeps the
        # membership; events meanwhile wait until the socket has answered.
        sockets = self.sockets.setdefault(group, set())
        sockets.add(consumer)
        joined = self.joined.get(group)
        if joined is None:
            joined = asyncio.ensure_future(self.layer.group_add(group, self.channel))
            self.joined[group] = joined
        try:
            await asyncio.shield(joined)  # Sockets joining at once share one add.
        except Exception:
            sockets.discard(consumer)
            if self.joined.get(group) is joined:
                del self.joined[group]  # The next subscription tries again.
            if not sockets:
                self.sockets.pop(group, None)
            raise

    async def open(self):
        """Get the process's channel, once, and start reading it."""
        async with self.opening:  # Two first subscriptions at once: one channel.
            if self.channel is None:
                # The default prefix: channels-redis's core layer reads every
                # channel of a process through one prefix.
                self.channel = await self.layer.new_channel()
                self.task = asyncio.create_task(self.run())

    async def discard(self, group, consumer):
        """Take a socket out of a group (the process leaves it when empty)."""
        sockets = self.sockets.get(group)
        if sockets is None:
            return
        sockets.discard(consumer)
        if not sockets:
            del self.sockets[group]
            self.joined.pop(group, None)
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


def one_per_loop(factory):
    """Return a getter of one `factory()` per running event loop.

    A server process has one loop; tests start a new loop per test, and each
    gets fresh state instead of a dead loop's.
    """
    instances = weakref.WeakKeyDictionary()

    def get():
        loop = asyncio.get_running_loop()
        instance = instances.get(loop)
        if instance is None:
            instance = instances[loop] = factory()
        return instance

    return get


# The FanOut of the running event loop (one per server process).
get_fanout = one_per_loop(FanOut)
