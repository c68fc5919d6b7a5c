"""The outbox over a server whose kernel counts what it sent (uvicorn).

A message handed to the server counts until the kernel has sent it: a peer
that reads is never slow, one that stops is closed 4009 though the server's
`send` never waited, and a patient sender waits until the kernel sends.
"""

import asyncio

from realtime_api.sockets.outbox import SLOW_CONSUMER, Outbox
from realtime_api.sockets.server_transport import Transport


class Kernel(Transport):
    """A server's kernel: sends everything handed to it while the peer reads."""

    counts_kernel = True

    def __init__(self):
        self.handed = 0
        self.sent = 0
        self.reading = True
        self.messages = []

    def counts(self):
        return self.handed, self.sent

    async def send(self, message):  # The server's `send`: never waits.
        self.messages.append(message)
        self.handed += len(message.get("text") or "") + 4  # Frame header.
        if self.reading:
            self.sent = self.handed

    def read(self):
        self.reading = True
        self.sent = self.handed


def text(size):
    return {"type": "websocket.send", "text": "x" * size}


async def drained(outbox):
    while outbox.messages:
        await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_a_peer_that_reads_is_never_slow():
    kernel = Kernel()
    outbox = Outbox(kernel.send, kernel, max_bytes=8192)
    for _ in range(100):
        await outbox.send(text(1000))
        await drained(outbox)
    assert not outbox.slow and len(kernel.messages) == 100
    await outbox.stop()


async def test_a_peer_that_stops_is_closed_4009_once_the_kernel_holds_the_bound():
    kernel = Kernel()
    outbox = Outbox(kernel.send, kernel, max_bytes=8192)
    kernel.reading = False
    for _ in range(8):  # 8,000 bytes: all handed to the server, none sent.
        await outbox.send(text(1000))
        await drained(outbox)
    assert not outbox.slow and not outbox.messages
    await outbox.send(text(1000))
    assert outbox.slow
    await outbox.closing
    assert kernel.messages[-1]["code"] == SLOW_CONSUMER
    assert len(kernel.messages) == 9  # The close follows the 8 handed before.
    await outbox.stop()


async def test_a_patient_sender_waits_until_the_kernel_sends():
    kernel = Kernel()
    outbox = Outbox(kernel.send, kernel, max_bytes=8192)
    kernel.reading = False

    async def replay():
        for _ in range(10):
            await outbox.send(text(1000))

    task = asyncio.create_task(replay())
    outbox.is_patient = lambda: asyncio.current_task() is task
    await asyncio.sleep(0.2)
    assert not task.done() and not outbox.slow  # Waiting for room.
    kernel.read()
    await asyncio.wait_for(task, 2)
    await drained(outbox)
    assert not outbox.slow and len(kernel.messages) == 10
    await outbox.stop()
