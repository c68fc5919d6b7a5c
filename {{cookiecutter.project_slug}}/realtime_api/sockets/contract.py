"""What the socket's consumer offers the parts mixed into it, in one place.

`APIDemultiplexer` (demultiplexer.py) is Channels' AsyncWebsocketConsumer,
through `GroupUserConsumer` (auth/revocation.py), with five parts mixed in:
`OverloadMixin` (limits/overload.py), `SubscriptionMixin` (subscriptions.py),
`WatchMixin` (watch.py), `PresenceMixin` (presence/requests.py) and
`ReauthenticateMixin` (auth/reauthenticate.py).

A part uses of `self` its own attributes and what `SocketConsumer` names,
nothing else. Each part's docstring says which of these it needs, what it
provides, and which of Channels' methods it extends (always calling
`super()`); tests/realtime/test_socket_contract.py holds them to it. Frames
are read by the FrameReaderMiddleware around the consumer (frame_reader.py),
not by an override of Channels' `__call__`.
"""

from typing import TYPE_CHECKING, Any, Protocol


class SocketConsumer(Protocol):
    """The consumer as its parts see it (who provides each is in brackets)."""

    # Channels' AsyncWebsocketConsumer.
    scope: dict[str, Any]  # The handshake's ASGI scope, with the socket's user.
    channel_layer: Any
    channel_name: str
    # The server's `send`; the outbox's once accepted (OverloadMixin).
    base_send: Any

    async def send(self, text_data=None, bytes_data=None, close=False): ...

    async def close(self, code=None, reason=None): ...

    # GroupUserConsumer: the groups that close it with 4001 (revocation.py).
    identity_groups: list[str]

    # APIDemultiplexer.
    runtime: Any  # Its registry's Runtime (runtime.py), from connect().
    bound_stream: str | None  # The stream of a socket bound to one.

    def then(self, action):
        """Run the coroutine function `action` once the response is sent."""

    def scope_changed(self):
        """The scope's headers changed: derive the request's scope anew."""

    # OverloadMixin.
    budget: Any  # Its identity's budget (limits/budgets.py), once admitted.

    def check_limit(self, count, limit, what, setting, advice):
        """Refuse (429) one more subscription or watch past its limit."""


if TYPE_CHECKING:

    class ConsumerPart(SocketConsumer):
        """A part's base to mypy: the contract, and Channels' methods parts extend."""

        # Attributes parts assign, declared again: mypy would take a part's
        # `self.x = ...` for a new attribute of its own.
        base_send: Any
        identity_groups: list[str]

        async def connect(self) -> None: ...

        async def accept(
            self, subprotocol: str | None = None, headers: Any = None
        ) -> None: ...

        async def disconnect(self, code: int) -> None: ...

        async def dispatch(self, message: dict[str, Any]) -> None: ...

else:
    ConsumerPart = object  # At run time a part is a plain mixin: the MRO is unchanged.
