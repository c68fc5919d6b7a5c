"""The outbox sends at once when nothing waits and daphne takes the bytes now.

Without a task switch per frame: the sender hands the message to the server
in its own task. Anything already queued goes first, and a paused transport
(Twisted's buffer past its size) makes the sender queue as before.
"""

import asyncio

from realtime_api.sockets.outbox import SLOW_CONSUMER, Outbox
from realtime_api.sockets.server_transport import Transport, TwistedTransport


class Daphne:
    """daphne's `send`: writes into Twisted's buffer, never waits."""

    def __init__(self):
        self.messages = []

    async def send(self, message):
        self.messages.append(message)

    def texts(self):
        return [m.get("text") for m in self.messages]


def text(value):
    return {"type": "websocket.send", "text": value}


class Protocol:
    """autobahn's protocol, as far as the transport touches it here."""

    closeHandshakeTimeout = 1


def outbox_over_daphne(max_bytes=8192):
    daphne = Daphne()
    transport = TwistedTransport(Protocol())  # start() is never called here.
    return daphne, transport, Outbox(daphne.send, transport, max_bytes)


async def test_a_frame_with_nothing_queued_goes_out_without_the_outbox_task():
    daphne, _, outbox = outbox_over_daphne()
    await outbox.send(text("a"))
    assert daphne.texts() == ["a"]  # Sent before send() returned...
    assert outbox.task is None  # ... by the sender: no task was started.
    assert outbox.messages is None and outbox.queued == 0
    await outbox.stop()


async def test_a_frame_behind_queued_ones_waits_its_turn():
    daphne, transport, outbox = outbox_over_daphne()
    transport.pauseProducing()
    await outbox.send(text("a"))
    await outbox.send(text("b"))
    assert daphne.texts() == [] and outbox.task is not None
    transport.resumeProducing()
    await outbox.send(text("c"))  # The transport takes it, but a and b wait.
    assert daphne.texts() == []
    await outbox.task
    assert daphne.texts() == ["a", "b", "c"]
    await outbox.send(text("d"))  # Nothing waits now: at once again.
    assert daphne.texts() == ["a", "b", "c", "d"] and outbox.task is None
    await outbox.stop()


async def test_a_paused_transport_makes_the_sender_queue():
    daphne, transport, outbox = outbox_over_daphne()
    transport.pauseProducing()
    await outbox.send(text("a"))
    assert daphne.texts() == [] and outbox.messages and outbox.task is not None
    await asyncio.sleep(0.01)
    assert daphne.texts() == []  # Still held: the task waits for the drain.
    transport.resumeProducing()
    await outbox.task
    assert daphne.texts() == ["a"]
    await outbox.stop()


async def test_a_paused_transport_still_closes_a_slow_consumer_4009():
    daphne, transport, outbox = outbox_over_daphne(max_bytes=8192)
    for _ in range(4):
        await outbox.send(text("x" * 1000))  # At once: Twisted takes them.
    transport.pauseProducing()  # Its buffer passed its size.
    for _ in range(8):  # 8,000 bytes queued: within the bound.
        await outbox.send(text("x" * 1000))
    assert not outbox.slow
    await outbox.send(text("x" * 1000))
    assert outbox.slow
    await outbox.closing
    assert len(daphne.messages) == 5  # The 4 sent, then the close.
    assert daphne.messages[-1]["code"] == SLOW_CONSUMER
    assert transport.protocol.closeHandshakeTimeout == 60  # Kept open for it.
    await outbox.stop()


async def test_a_server_that_says_nothing_is_sent_to_by_the_task():
    """Only a transport that says it takes bytes now gets them at once."""
    sent = []

    async def send(message):
        sent.append(message)

    outbox = Outbox(send, Transport(), max_bytes=8192)
    await outbox.send(text("a"))
    assert sent == [] and outbox.task is not None
    await outbox.task
    assert [m["text"] for m in sent] == ["a"]
    await outbox.stop()


async def test_a_send_that_waits_keeps_later_frames_behind_it():
    """A server whose `send` suspends: what comes meanwhile follows it."""
    sent, gate = [], asyncio.Event()

    async def send(message):
        if message["text"] == "a":
            await gate.wait()
        sent.append(message["text"])

    transport = TwistedTransport(Protocol())
    outbox = Outbox(send, transport, max_bytes=8192)
    first = asyncio.create_task(outbox.send(text("a")))
    await asyncio.sleep(0)
    await outbox.send(text("b"))
    await asyncio.sleep(0.01)
    assert sent == []  # b waits for a, in the queue.
    gate.set()
    await first
    while outbox.task is not None:
        await asyncio.sleep(0)
    assert sent == ["a", "b"]
    await outbox.stop()
