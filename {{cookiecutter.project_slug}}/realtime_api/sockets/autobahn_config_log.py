"""autobahn's per-handshake DEBUG line of its config, formatted only when logged.

Each WebSocket connection daphne takes runs autobahn's `_connectionMade`,
which builds `pformat()` of its 29 config attributes for a DEBUG line,
whether or not DEBUG is logged: about 0.1 ms of the event loop per
handshake, refused ones included (an unrouted or wrong-password flood
costs the loop ~0.55 ms a handshake). Here the text is made by the log
line itself when it is written: with DEBUG off (txaio's logger then drops
the call unread) it is never made.

Installed by the app's ready() (apps.py); the module's other pformat user,
Timings.__str__, keeps the real one (it must return a str).
"""

import pprint


class LazyPformat:
    """`pprint.pformat(value)`, made only when formatted."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self):
        return pprint.pformat(self.value)

    __repr__ = __str__

    def __format__(self, spec):
        return format(str(self), spec)


def timings_str(timings):
    return pprint.pformat(timings._timings)


def install():
    """Make autobahn's config line lazy; False when autobahn is not installed."""
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return False
    protocol.Timings.__str__ = timings_str  # type: ignore[method-assign]
    protocol.pformat = LazyPformat  # type: ignore[assignment]
    return True
