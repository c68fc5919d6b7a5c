"""autobahn's config DEBUG line is made only when it is logged
(realtime_api/sockets/autobahn_config_log.py)."""

import pprint
from unittest import mock

import txaio
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import protocol
from twisted.internet.testing import StringTransport

from realtime_api.sockets.autobahn_config_log import LazyPformat


def connection_made():
    """What daphne's protocol runs for each connection it takes."""
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    factory.buildProtocol(None).makeConnection(StringTransport())


def test_the_app_installs_it():
    assert protocol.pformat is LazyPformat


def test_a_connection_formats_no_config_when_debug_is_off():
    assert txaio.get_global_log_level() != "debug"
    calls = []
    real = pprint.PrettyPrinter.pformat

    def counted(self, value):
        calls.append(value)
        return real(self, value)

    # What any pformat() runs, whichever name autobahn imported it as.
    with mock.patch.object(pprint.PrettyPrinter, "pformat", counted):
        connection_made()
    assert calls == []


def test_the_config_line_is_still_written_with_debug():
    """A logger at DEBUG formats the line: the config is in it."""
    lines = []

    class Log:
        def debug(self, text, **fields):
            lines.append(text.format(**fields))

        def __getattr__(self, level):
            return lambda *args, **kwargs: None

    with mock.patch.object(WebSocketServerProtocol, "log", Log()):
        connection_made()
    assert any("'autoPingInterval'" in line for line in lines), lines


def test_it_formats_as_pformat():
    value = [("utf8validateIncoming", True, "WebSocketServerFactory")] * 5
    assert f"\n{LazyPformat(value)}" == "\n" + pprint.pformat(value)
    assert str(protocol.Timings()) == pprint.pformat({})
