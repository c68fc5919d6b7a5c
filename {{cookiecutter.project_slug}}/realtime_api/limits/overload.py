"""What one socket may cost the server (PROTOCOL.md, "Limits and overload").

`OverloadMixin`, for the socket's consumer, puts a bound on both sides:

- frames in: each is read as it arrives (the FrameReaderMiddleware around
  the consumer hands it to the inbox: sockets/frame_reader.py) and passes
  flood control (a token bucket, and a bound on the frames waiting to be
  answered) before it is queued to run (inbox.py); a socket that goes on
  flooding is closed, 4008;
- bytes out: everything sent waits in a bounded outbox (outbox.py); a socket
  that does not read is closed as a slow consumer, 4009.

The limits on subscriptions and live queries are checked where those start
(`check_limit()`, called by subscriptions.py and watch.py).
"""

from realtime_api import conf
from realtime_api.limits import budgets
from realtime_api.limits.budgets import refuse_handshake
from realtime_api.ops import metrics
from realtime_api.protocol import (
    ProtocolError,
    RequestFrame,
    error_frame,
    parse_request,
)
from realtime_api.sockets.contract import ConsumerPart
from realtime_api.sockets.frame_reader import reader_of
from realtime_api.sockets.inbox import Inbox
from realtime_api.sockets.outbox import SLOW_CLOSE_SECONDS, Outbox
from realtime_api.sockets.server_transport import transport_of

FLOODING = 4008
FLOODING_REASON = "flooding: reconnect later, slower"


class OverloadMixin(ConsumerPart):
    """Flood control, limits and a bounded outbox for the socket's consumer.

    Needs (sockets/contract.py): runtime, scope, base_send, bound_stream.
    Provides: budget, check_limit, stop_frames, hold_bytes, release_bytes,
    refusal, close_flooding, flood_identity.
    Extends Channels': connect, accept, dispatch.
    """

    inbox: Inbox | None = None
    outbox: Outbox | None = None
    budget = None  # Its identity's budget (budgets.py), once admitted.

    async def connect(self):
        """Admit the socket within its identity's budget, or refuse it (429)."""
        key = self.flood_identity()
        if not self.runtime.budgets.admit(key, self):
            limit, setting = self.runtime.budgets.socket_limit(key)
            detail = (
                f"Too many sockets: {limit} may be open at once for one user "
                f"(or anonymous address) ({setting}). Close one first."
            )
            await refuse_handshake(self, detail)
            return
        self.budget = self.runtime.budgets.get(key)
        await super().connect()

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        transport = transport_of(self.scope)
        transport.start()
        outbox = Outbox(self.base_send, transport, conf.max_queued_bytes())
        self.outbox, self.base_send = outbox, outbox.send
        flood = self.flood_ledger().take(
            self.flood_identity(), conf.frame_rate(), conf.frame_burst()
        )
        flood.shared = self.budget.frame_bucket() if self.budget else None
        self.inbox = inbox = Inbox(
            self, flood, conf.max_pending_frames(), conf.max_frame_bytes()
        )
        outbox.is_patient = inbox.running_here
        if flood.exhausted():  # Its last socket was closed flooding, just now.
            inbox.flooding()
        reader = reader_of(self.scope)
        if reader is not None:  # Frames go straight to the inbox from now on.
            reader.attach(inbox)

    async def dispatch(self, message):
        # Frames reach Channels when no FrameReaderMiddleware serves the socket
        # (a consumer routed on its own, as some tests do): they go to the
        # inbox too, never straight to `receive()`. And no trip to the
        # database thread per frame (Channels closes old connections first;
        # a frame that runs does it in that thread anyway).
        if message["type"] == "websocket.receive" and self.inbox is not None:
            self.inbox.arrive(message)
            return
        await super().dispatch(message)

    async def stop_frames(self):
        """On disconnect: run no more frames and send nothing more."""
        if self.inbox is not None:
            await self.inbox.stop()
            self.flood_ledger().keep(self.flood_identity(), self.inbox.flood)
        if self.outbox is not None:
            await self.outbox.stop()
        if self.budget is not None:
            self.runtime.budgets.leave(self.flood_identity(), self)
            self.budget = None

    def close_flooding(self):
        """Close a flooding socket (4008) at once, reading nothing more from it.

        Like a slow consumer's, its close frame may wait for the client to
        read it: a flooder that does not read stays on this socket, unread,
        instead of reconnecting every second (each handshake costs).
        Its penalty is recorded now, not when the socket finally goes (by
        then it would have refilled): a reconnect meanwhile is closed 4008.
        """
        inbox, outbox = self.inbox, self.outbox
        assert inbox is not None and outbox is not None  # Called by the inbox.
        inbox.flood.penalize()
        self.flood_ledger().keep(self.flood_identity(), inbox.flood)
        outbox.transport.stop_reading()
        outbox.close_now(FLOODING, FLOODING_REASON, SLOW_CLOSE_SECONDS)

    def flood_ledger(self):
        return self.runtime.flood_ledger

    def flood_identity(self):
        """Whose allowance a socket spends: its user's, or its address's."""
        return budgets.identity(self.scope)

    # --- Refusals ---------------------------------------------------------------

    def refusal(self, text, reason, wait):
        """The 429 answering a frame refused at arrival (not run)."""
        frame = RequestFrame()
        if text is not None and len(text) <= conf.max_frame_bytes():
            try:  # Echo what can be read of it: request_id, stream, action.
                parse_request(text, frame, self.bound_stream)
            except ProtocolError:
                pass
        if reason == "user-rate":
            detail = (
                f"Too many frames: a user's (or anonymous address's) sockets "
                f"may send {conf.user_frame_rate():g} a second together "
                f"({conf.user_frame_burst()} at once; REALTIME_API_USER_FRAME_RATE, "
                f"REALTIME_API_USER_FRAME_BURST). Wait {wait:g} s."
            )
            return error_frame(frame, 429, detail, wait=wait)
        if reason == "rate":
            detail = (
                f"Too many frames: this socket may send {conf.frame_rate():g} "
                f"a second ({conf.frame_burst()} at once; REALTIME_API_FRAME_RATE, "
                f"REALTIME_API_FRAME_BURST). Wait {wait:g} s; frames sent "
                "before then are refused too, and a socket that goes on "
                "is closed (4008)."
            )
            return error_frame(frame, 429, detail, wait=wait)
        detail = (
            f"Too many requests waiting: {conf.max_pending_frames()} frames of "
            "this socket wait to be answered (REALTIME_API_MAX_PENDING_FRAMES). "
            "Wait for their answers."
        )
        return error_frame(frame, 429, detail)

    def check_limit(self, count, limit, what, setting, advice):
        """Refuse (429, no `wait`) a subscription or watch past its limit."""
        if count >= limit:
            metrics.overload(what)
            raise ProtocolError(
                429,
                f"Too many {what}: a socket may hold {limit} ({setting}). {advice}",
            )
        self.check_user_limit(what, advice)

    def check_user_limit(self, what, advice):
        """Refuse (429) one more past what all of the identity's sockets may hold."""
        limits = {
            "subscriptions": (
                conf.max_subscriptions_per_user(),
                "REALTIME_API_MAX_SUBSCRIPTIONS_PER_USER",
            ),
            "watches": (
                conf.max_watches_per_user(),
                "REALTIME_API_MAX_WATCHES_PER_USER",
            ),
        }
        if self.budget is None or what not in limits:
            return
        limit, setting = limits[what]
        if limit and self.budget.held(what) >= limit:
            metrics.overload(f"user_{what}")
            raise ProtocolError(
                429,
                f"Too many {what}: a user's (or anonymous address's) sockets may "
                f"hold {limit} together ({setting}). {advice}",
            )

    # --- Bytes held for later ---------------------------------------------------

    def hold_bytes(self, size):
        """Count an event held while a request is answered; False if it overflows."""
        return self.outbox is None or self.outbox.reserve(size)

    def release_bytes(self, size):
        if self.outbox is not None:
            self.outbox.release(size)
