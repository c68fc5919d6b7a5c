"""What publishing costs a save made outside a socket (a shell, a WSGI worker,
Celery, the admin): realtime_api/delivery/broadcast.py from sync code.

    python -m bench.sync_saves [--saves 500] [--rounds 3]

From the project folder, on the project's database and channel layer
(DATABASE_URL, REDIS_URL). Saves `--saves` topics a round from this thread
and prints each round's time a save, with publishing and without it (the
baseline, same run), and how many context variables the thread holds after:
a figure that grows with the rounds is a leak. The topics are deleted after.
"""

import argparse
import contextvars
import sys
import time

from bench.cli import setup_django


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    setup_django()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from discussion.models import Topic
    from realtime_api.delivery import broadcast

    owner, _ = get_user_model().objects.get_or_create(username="realtime-bench-saves")

    def ms_a_save():
        started = time.perf_counter()
        for _ in range(args.saves):
            Topic.objects.create(title="bench", owner=owner)
        return (time.perf_counter() - started) * 1000 / args.saves

    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"engine: {connection.vendor}, layer: {layer}, {args.saves} saves a round")
    for number in range(1, args.rounds + 1):
        published = ms_a_save()
        held = len(contextvars.copy_context())
        publish = broadcast.publish_after_commit
        # The baseline: the same saves, their events not published.
        broadcast.publish_after_commit = lambda change: None
        try:
            alone = ms_a_save()
        finally:
            broadcast.publish_after_commit = publish
        print(
            f"round {number}: {published:.2f} ms a save published, "
            f"{alone:.2f} ms not published; {held} context variables held"
        )
    Topic.objects.filter(owner=owner).delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
