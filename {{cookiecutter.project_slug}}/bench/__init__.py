"""The load tool: how many sockets and events can this server take?

A tool run from the project folder, not part of the application: nothing in
config/ or realtime_api/ imports it, and pyproject.toml does not install it
(its dependencies are the `bench` extra: pip install -e ".[bench]")::

    daphne bench.asgi:application &     # the project plus the reference
    python -m bench --server-pid $!

- cli.py: the command line (`python -m bench --help`);
- scenario.py: what the load creates, and the default;
- sessions.py: the load's users and sessions, in the project's database;
- load.py: the run (workloads, endpoints, rounds); workloads.py: each
  measurement; client.py: the sockets, speaking PROTOCOL.md;
- report.py: the ratios to the reference, the table and the JSON file;
- neighbours.py: N1, what a noisy user or stranger costs the others
  (`--workloads neighbours`);
- reference.py: the least a Channels consumer can do for the same work;
- asgi.py: the project's application plus that reference (never deploy it);
- peers.py and peer/: `python -m bench --peers`, the equal-work comparison
  (ours, DCRF, bare) over one plain model; settings.py installs peer/.
- idle.py: `python -m bench.idle`, W3 with a fresh daphne per endpoint (no
  endpoint measured in memory another left free).

How to run it and read the figures: BENCHMARKS.md, next to this file.
"""

# Where asgi.py serves the reference endpoint, and where the load looks for it.
REFERENCE_PATH = "/bench/minimal/"
# The equal-work comparison's bare and DCRF consumers (bench/peer/).
PEER_BARE_PATH = "/bench/peer/minimal/"
PEER_DCRF_PATH = "/bench/peer/dcrf/"
