"""What keeping the sockets' users fresh costs (PROTOCOL.md "Present credentials").

    python -m bench.identity_cost [--sockets 200] [--repeat 200]

From the project folder, on the project's database. It measures the two
ways to answer each socket as HTTP would now, with the same reads
(realtime_api/auth/identity.py's `read_state`: the user's row, groups,
permissions, its groups' permissions, and the session):

- per request: one socket's user and session read again before each
  request (what re-reading per request would add to every frame);
- the sweep: every open socket's users and sessions read at once, which
  identity.py does every 0.5 s per process, and no request pays for.

It creates `--sockets` users `realtime-identity-N` with a session each and a
group with a permission (kept between runs).
"""

import argparse
import statistics
import sys
import time

from bench.cli import setup_django


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    setup_django()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from realtime_api.auth import identity
    from realtime_api.testing import create_session

    group, _ = Group.objects.get_or_create(name="realtime-identity")
    group.permissions.set(Permission.objects.all()[:3])
    model = get_user_model()
    helds = []
    for i in range(args.sockets):
        user, _ = model.objects.get_or_create(username=f"realtime-identity-{i}")
        user.groups.add(group)
        helds.append(identity.Held(user.pk, session_key=create_session(user)))

    def timed(held, repeat):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            state = identity.read_state(held)
            times.append((time.perf_counter() - started) * 1000)
            assert all(state.accepts(h) for h in held)
        with CaptureQueriesContext(connection) as queries:
            identity.read_state(held)
        return statistics.median(times), len(queries)

    one_ms, one_queries = timed(helds[:1], args.repeat)
    all_ms, all_queries = timed(helds, max(1, args.repeat // 10))
    per_second = all_ms / identity.SWEEP_SECONDS
    print(f"engine: {connection.vendor}, {args.sockets} sockets of as many users")
    print(
        f"per request (1 socket re-read): {one_ms:.2f} ms, "
        f"{one_queries} queries, added to every request"
    )
    print(
        f"the sweep ({args.sockets} sockets at once): {all_ms:.2f} ms, "
        f"{all_queries} queries, every {identity.SWEEP_SECONDS} s "
        f"= {per_second:.1f} ms of database thread a second; 0 per request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
