"""What the app can know of the bytes a server still holds for a socket.

ASGI does not say. uvicorn's `send` waits while the peer does not read, so
a task that sends feels it. daphne's `send` never waits: it writes into
Twisted's transport buffer, out of the app's sight, and closes a socket one
second after sending a close frame that the peer has not answered (a close
frame queued behind megabytes never arrives).

daphne gives each application a `send` bound to its protocol (autobahn on
Twisted), and Twisted's public producer API says when a transport's buffer
passes its size (64 KiB) and when it has drained: `ServerTransportMiddleware`
(outermost, around the WebSocket stack in config/asgi.py) registers the
socket's outbox as that producer, and lets a slow consumer's close frame
wait as long as the protocol promises.
"""

import asyncio
import functools
import logging

logger = logging.getLogger(__name__)

SCOPE_KEY = "realtime_api.transport"


class ServerTransportMiddleware:
    """Put what the server exposes of a socket's transport in its scope."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and SCOPE_KEY not in scope:
            scope = {**scope, SCOPE_KEY: transport_for(send)}
        return await self.inner(scope, receive, send)


def transport_for(send):
    """A TwistedTransport for daphne's `send`, else a Transport."""
    protocol = None
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
    if hasattr(protocol, "registerProducer") and hasattr(
        protocol, "closeHandshakeTimeout"
    ):
        return TwistedTransport(protocol)
    return Transport()


def transport_of(scope):
    """The socket's transport (a plain Transport without the middleware)."""
    return scope.get(SCOPE_KEY) or Transport()


class Transport:
    """A server whose `send` waits for the peer itself (uvicorn, tests)."""

    def start(self):
        """Call once the socket is accepted."""

    async def writable(self):
        """Return when the server takes more bytes without holding them."""

    def keep_open_for(self, seconds):
        """Let the close frame about to be sent wait `seconds` for the peer."""

    def stop_reading(self):
        """Read nothing more from the peer (a flood being closed)."""


class TwistedTransport(Transport):
    """daphne's socket, paused while Twisted holds more than its buffer size.

    A streaming producer of Twisted's transport (IPushProducer): Twisted calls
    pauseProducing() when its buffer passes 64 KiB and resumeProducing()
    when it has drained to the kernel.
    """

    def __init__(self, protocol):
        self.protocol = protocol
        self.drained = asyncio.Event()
        self.drained.set()
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

    async def writable(self):
        await self.drained.wait()

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
        self.drained.clear()
        if self.previous is not None:
            self.previous.pauseProducing()

    def resumeProducing(self):
        self.drained.set()
        if self.previous is not None:
            self.previous.resumeProducing()

    def stopProducing(self):
        self.drained.set()  # Gone: what is sent now is dropped, not held.
        if self.previous is not None:
            self.previous.stopProducing()
