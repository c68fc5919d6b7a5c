"""Benchmark code for `manage.py realtime_bench`: not part of the API you ship.

- `load.py` drives a running server over real WebSockets (the workloads);
- `reference.py` is the least a Channels consumer can do for the same work,
  the yardstick our figures are reported against;
- `asgi.py` serves the project's application plus that reference consumer at
  `/bench/minimal/`: `daphne realtime_api.bench.asgi:application`.

How to run it and what the numbers mean: BENCHMARKS.md in the project root.
"""
