"""What the app can know of the bytes a server still holds for a socket.

ASGI does not say. daphne's `send` never waits: it writes into Twisted's
transport buffer, out of the app's sight, and closes a socket one second
after sending a close frame that the peer has not answered (a close frame
queued behind megabytes never arrives). uvicorn's `send` waits while its
asyncio transport holds more than 64 KiB, but with permessage-deflate (its
default, which browsers and the websockets client accept) that takes
megabytes of events: the kernel's socket buffer (up to 4 MiB) holds them
compressed, and `send` never waits for a subscriber that stopped reading.

daphne gives each application a `send` bound to its protocol (autobahn on
Twisted), and Twisted's public producer API says when a transport's buffer
passes its size (64 KiB) and when it has drained: `ServerTransportMiddleware`
(outermost, around the WebSocket stack in config/asgi.py) registers the
socket's outbox as that producer, and lets a slow consumer's close frame
wait as long as the protocol promises.

uvicorn gives `send` bound to its protocol, whose asyncio transport and socket
say how many bytes it was handed and how many its kernel has sent:
`KernelTransport` tells the outbox, which counts a message as held until the
kernel has sent its last byte (outbox.py), uncompressed, as on daphne.
"""

import asyncio
import fcntl
import functools
import logging
import socket
import struct
import termios
from typing import Any

logger = logging.getLogger(__name__)

SCOPE_KEY = "realtime_api.transport"


class ServerTransportMiddleware:
    """Put what the server exposes of a socket's transport in its scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    # Not `async`: it hands on the inner application's coroutine, so no frame
    # of its own is kept for each socket (BENCHMARKS.md, "An idle socket").
    _asgi_single_callable = True  # What asgiref asks of a plain __call__.

    def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and SCOPE_KEY not in scope:
            # Into the server's own scope, made for this socket alone: a copy
            # of its twenty keys or so would live as long as the socket.
            scope[SCOPE_KEY] = transport_for(send)
        return self.inner(scope, receive, send)


def transport_for(send):
    """A TwistedTransport for daphne's `send`, else a Transport."""
    protocol = None
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
    if hasattr(protocol, "registerProducer") and hasattr(
        protocol, "closeHandshakeTimeout"
    ):
        return TwistedTransport(protocol)
    protocol = getattr(send, "__self__", None)
    transport = getattr(protocol, "transport", None)
    if hasattr(transport, "get_write_buffer_size") and kernel_counts(transport):
        return KernelTransport(protocol)
    return Transport()


def transport_of(scope):
    """The socket's transport (a plain Transport without the middleware)."""
    return scope.get(SCOPE_KEY) or Transport()


class Transport:
    """A server that says nothing of what it holds (tests, other servers)."""

    __slots__ = ()

    counts_kernel = False  # Whether counts() says what the kernel sent.

    def start(self):
        """Call once the socket is accepted."""

    def takes_now(self):
        """Whether the server's `send` takes a message now without waiting.

        False unless the server says so: the outbox's task then sends,
        waiting on writable() first.
        """
        return False

    def gone(self):
        """Whether the client's connection is known to be closed."""
        return False

    async def writable(self):
        """Return when the server takes more bytes without holding them."""

    def keep_open_for(self, seconds):
        """Let the close frame about to be sent wait `seconds` for the peer."""

    def stop_reading(self):
        """Read nothing more from the peer (a flood being closed)."""

    def counts(self):
        """(handed, sent): bytes the server was given, bytes it sent; or None.

        Both count from the socket's start; None when the server does not
        say, or its socket is closing (it holds nothing more for the app).
        """
        return None


class TwistedTransport(Transport):
    """daphne's socket, paused while Twisted holds more than its buffer size.

    A streaming producer of Twisted's transport (IPushProducer): Twisted calls
    pauseProducing() when its buffer passes 64 KiB and resumeProducing()
    when it has drained to the kernel.
    """

    __slots__ = ("paused", "previous", "protocol")

    def __init__(self, protocol):
        self.protocol = protocol
        # Set once Twisted's buffer has drained, for the sends waiting;
        # None while it takes more (nearly always: an idle socket keeps none).
        self.paused: asyncio.Event | None = None
        self.previous = None  # The producer registered before, told the same.

    def start(self):
        # daphne upgrades an HTTP connection: its HTTPChannel stays registered
        # as the transport's producer. Stand in front of it and pass on.
        transport = self.protocol.transport
        try:
            self.previous = getattr(transport, "producer", None)
            if self.previous is not None:
                transport.unregisterProducer()
            transport.registerProducer(self, True)
        except Exception:  # A transport of another kind (daphne's own TLS).
            logger.warning("Cannot watch this socket's send buffer", exc_info=True)

    def takes_now(self):
        # daphne's `send` writes into Twisted's buffer and returns; Twisted
        # pauses this producer as it passes its size.
        return self.paused is None

    async def writable(self):
        while self.paused is not None:
            await self.paused.wait()

    def gone(self):
        transport = self.protocol.transport
        return transport is None or bool(
            getattr(transport, "disconnected", False)
            or getattr(transport, "disconnecting", False)
        )

    def keep_open_for(self, seconds):
        # autobahn drops the connection this long after its close frame is
        # sent unless the peer answers it (1 s in daphne).
        self.protocol.closeHandshakeTimeout = seconds

    def stop_reading(self):
        # What the peer sends until the connection drops stays in the kernel:
        # Twisted reads, parses and queues none of it.
        self.protocol.transport.pauseProducing()

    # IPushProducer, called by Twisted on the event loop's thread.

    def pauseProducing(self):
        if self.paused is None:
            self.paused = asyncio.Event()
        if self.previous is not None:
            self.previous.pauseProducing()

    def resumeProducing(self):
        self.drained()
        if self.previous is not None:
            self.previous.resumeProducing()

    def stopProducing(self):
        self.drained()  # Gone: what is sent now is dropped, not held.
        if self.previous is not None:
            self.previous.stopProducing()

    def drained(self):
        paused, self.paused = self.paused, None
        if paused is not None:
            paused.set()


# Linux's struct tcp_info: bytes the peer acknowledged, bytes not yet sent.
TCP_INFO_SIZE = 152
BYTES_ACKED_AT = 120
NOTSENT_BYTES_AT = 144
NO_BYTES = bytes(4)


def kernel_counts(transport):
    """(handed, sent) of an asyncio transport's TCP socket, or None.

    handed: what the transport was given to write since the socket opened
    (acknowledged by the peer + still in the kernel + in the transport's
    buffer); sent: what the kernel has sent of it. None off Linux, over a
    Unix socket, or once the socket is closed.
    """
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
        in_queue = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, NO_BYTES)
    except (OSError, AttributeError, ValueError):
        return None
    if len(info) < TCP_INFO_SIZE:
        return None  # A kernel older than 4.6.
    (acked,) = struct.unpack_from("Q", info, BYTES_ACKED_AT)
    (not_sent,) = struct.unpack_from("I", info, NOTSENT_BYTES_AT)
    in_kernel = acked + struct.unpack("i", in_queue)[0]  # Unacknowledged or unsent.
    return in_kernel + transport.get_write_buffer_size(), in_kernel - not_sent


class KernelTransport(Transport):
    """uvicorn's socket (any asyncio server's): its transport and kernel counts.

    uvicorn's own `send` waits while its transport buffer is full; the outbox
    also counts what the kernel has not sent (`counts()`).
    """

    counts_kernel = True

    __slots__ = ("protocol",)

    def __init__(self, protocol):
        self.protocol = protocol

    def gone(self):
        transport = self.protocol.transport
        return transport is None or transport.is_closing()

    def counts(self):
        transport = self.protocol.transport
        if transport is None or transport.is_closing():
            return None
        return kernel_counts(transport)

    def keep_open_for(self, seconds):
        # uvicorn closes the transport this long after its close frame is
        # written unless the peer answers it (10 s): let the peer read it.
        # Its close waits for the peer to read what it holds, for ever: cut
        # the socket then, as daphne does, if the peer has not read it all.
        if hasattr(self.protocol, "close_timeout"):
            self.protocol.close_timeout = seconds
        transport = self.protocol.transport
        asyncio.get_running_loop().call_later(seconds + 1, transport.abort)

    def stop_reading(self):
        # uvicorn resumes reading when it sends a close frame if it paused
        # reading itself (read_paused): it must not resume this one.
        if hasattr(self.protocol, "read_paused"):
            self.protocol.read_paused = False
        self.protocol.transport.pause_reading()
