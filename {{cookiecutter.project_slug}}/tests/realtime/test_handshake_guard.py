"""The handshake guard's count of handshakes in flight (limits/handshake_guard.py).

A handshake is in flight from its admission until the application accepts or
refuses it, the client leaves, or the application ends without saying: then
the bound in flight (REALTIME_API_MAX_HANDSHAKES_IN_FLIGHT) admits the next.
"""

import pytest
from channels.testing import WebsocketCommunicator

from realtime_api.limits.handshake_guard import HandshakeGuard
from realtime_api.routing import websocket_urlpatterns

pytestmark = pytest.mark.timeout(10)


async def accept_and_idle(scope, receive, send):
    """An application that accepts, then waits for the client to leave."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def fail_before_deciding(scope, receive, send):
    """An application that fails before it accepts or refuses."""
    await receive()
    raise RuntimeError("failed before deciding")


def guard_of(application):
    return HandshakeGuard(application, websocket_urlpatterns)


def client(guard):
    """A client of `guard` at the API's path, with a Host the tests allow."""
    return WebsocketCommunicator(guard, "/ws/", headers=[(b"host", b"testserver")])


async def test_an_accepted_socket_is_no_longer_in_flight():
    """Accepted, it is open, not in flight, while it stays open."""
    guard = guard_of(accept_and_idle)
    ws = client(guard)
    connected, _ = await ws.connect()
    assert connected
    assert guard.admission.in_flight == 0
    await ws.send_to(text_data="still here")  # Read past the decision.
    await ws.disconnect()
    assert guard.admission.in_flight == 0


async def test_an_application_that_fails_before_deciding_ends_its_count():
    """The count ends with the application, even when it raised."""
    guard = guard_of(fail_before_deciding)
    ws = client(guard)
    with pytest.raises(RuntimeError, match="failed before deciding"):
        await ws.connect()
    assert guard.admission.in_flight == 0


async def test_a_client_that_leaves_during_the_handshake_ends_its_count():
    """A disconnect before the decision ends the count."""

    async def leave_seen(scope, receive, send):
        while (await receive())["type"] != "websocket.disconnect":
            pass
        assert guard.admission.in_flight == 0

    guard = guard_of(leave_seen)
    ws = client(guard)
    await ws.send_input({"type": "websocket.connect"})
    await ws.send_input({"type": "websocket.disconnect", "code": 1001})
    await ws.wait(2)
    assert guard.admission.in_flight == 0
