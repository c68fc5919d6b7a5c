"""What autobahn's per-connection config DEBUG line costs daphne's event loop.

    python -m bench.handshake_log_cost [--connections 3000]

Times what daphne's protocol runs for each connection it takes (autobahn's
`_connectionMade`, on an in-memory transport), with autobahn's own
`pformat` of its config, then with realtime_api's lazy one
(realtime_api/sockets/autobahn_config_log.py), DEBUG off as in production.
The best of five rounds each, in microseconds per connection.
"""

import argparse
import timeit

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.testing import StringTransport


def per_connection(count):
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol

    def made():
        factory.buildProtocol(None).makeConnection(StringTransport())

    return min(timeit.repeat(made, number=count, repeat=5)) / count * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=3000)
    args = parser.parse_args(argv)
    eager = per_connection(args.connections)
    from realtime_api.sockets.autobahn_config_log import install

    install()
    lazy = per_connection(args.connections)
    print(
        f"autobahn connectionMade: {eager:.0f} us with its config pformat, "
        f"{lazy:.0f} us lazy: {eager - lazy:.0f} us less per handshake"
    )


if __name__ == "__main__":
    main()
