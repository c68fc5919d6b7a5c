"""What a live query (`watch`) keeps in memory per matched object.

A live query holds the pks of every object its query matches (watch.py,
`LiveQuery.members`): a set of ints. This measures that set with tracemalloc
at a few sizes, and what REALTIME_API_MAX_WATCH_MATCHES (10,000 by default)
bounds it to::

    python -m bench.watch_memory
    python -m bench.watch_memory --rows 50000 1000000 --bound 10000

The pks are built as the snapshot builds them (`pk_value` of each), from
integers as the database returns them; no database is needed.
"""

import argparse
import gc
import tracemalloc

from realtime_api.delivery.changes import pk_value


def members_bytes(rows):
    """Bytes held by the members set of a live query matching `rows` objects."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # Offset past the small ints Python caches, as real pks mostly are.
        members = {pk_value(pk) for pk in range(1000, 1000 + rows)}
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(members) == rows
    return held


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--bound", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(f"{'rows matched':>14} {'unbounded':>12} {'per pk':>8} {'bounded':>12}")
    for rows in args.rows:
        held = members_bytes(rows)
        bounded = members_bytes(min(rows, args.bound))
        print(
            f"{rows:>14,} {held / 2**20:>10.1f} MB {held / rows:>6.0f} B "
            f"{bounded / 2**20:>10.2f} MB"
        )


if __name__ == "__main__":
    main()
