"""`python -m bench.peer.costs`: where the sample view's cost goes, per create.

`python -m bench --peers` shows the sample's stream costing more per create
than our stream over the peer's plain view. This says which part of the
sample view costs it, in this process (no server, no socket), for one
logged-in user, by timing each part on its own:

- validating the create: the serializer's `is_valid()`; the sample's checks
  that the topic is visible to the user (a query through `visible_to()`) and
  open, and the text's length;
  - of which the topic field: that visibility-query lookup alone;
- rendering the answer: `create`'s response data;
  - of which can_edit: the per-user field alone;
- the event read: what each audience (each user, by default) does once per
  change: read the object again through the view's queryset, check it, and
  render it (realtime_api/delivery/audience.py).

It needs the sample app (the comparison is against its `comments` stream)
and bench/settings.py (the peer's stream)::

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.peer.costs --repeat 300

Medians of wall-clock time in microseconds; compare the two columns of one
run. Everything it writes is rolled back.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django
from django.apps import apps

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402

from bench.peer.names import STREAM  # noqa: E402
from bench.scenario import DEFAULT, fill  # noqa: E402
from realtime_api.delivery.audience import Audience  # noqa: E402
from realtime_api.streams.registry import get_registry  # noqa: E402

USERNAME = "realtime-bench-costs"
PARTS = (
    ("validate", "validating the create"),
    ("topic", "  of which the topic field"),
    ("render", "rendering the answer"),
    ("can_edit", "  of which can_edit"),
    ("event", "event read, per audience"),
)


def median_us(function, repeat):
    """The median wall-clock time of `function()`, in microseconds (warmed up)."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


class StreamParts:
    """One stream's view, as a socket's create runs it for `user`."""

    def __init__(self, stream, user):
        self.adapter = get_registry().get(stream)
        if self.adapter is None:
            sys.exit(
                f"No stream {stream!r}: run with DJANGO_SETTINGS_MODULE=bench.settings."
            )
        self.user = user
        endpoint = self.adapter.endpoint_class(self.adapter, {"user": user})
        endpoint.initial(route="list", check=False)
        self.view = endpoint.view_instance
        self.serializer_class = endpoint.get_serializer_class()
        self.context = self.view.get_serializer_context()

    def serializer(self, *args, **kwargs):
        return self.serializer_class(*args, context=self.context, **kwargs)

    def create(self, payload):
        """Create as the view's `create` does (its perform_create); return it."""
        serializer = self.serializer(data=payload)
        serializer.is_valid(raise_exception=True)
        self.view.perform_create(serializer)
        return serializer.instance

    def costs(self, payload, repeat):
        """{part: microseconds} of a create of `payload` (None: no such part)."""
        obj = self.create(payload)
        fields = self.serializer().fields
        audience = Audience(self.adapter, f"user-{self.user.pk}", {"user": self.user})
        costs = {
            "validate": median_us(
                lambda: self.serializer(data=payload).is_valid(raise_exception=True),
                repeat,
            ),
            "topic": median_us(
                lambda: fields["topic"].run_validation(payload["topic"]), repeat
            ),
            "render": median_us(lambda: self.serializer(obj).data, repeat),
            "can_edit": None,
            "event": median_us(lambda: audience.render_many({obj.pk}), repeat),
        }
        if "can_edit" in fields:
            field = fields["can_edit"]
            costs["can_edit"] = median_us(lambda: field.to_representation(obj), repeat)
        return costs


def measure(repeat):
    """{"sample": costs, "equal": costs}, with every write rolled back."""
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=USERNAME)
        sample = StreamParts(DEFAULT.stream, user)
        topic = StreamParts(DEFAULT.parent_stream, user).create(DEFAULT.parent_payload)
        equal = StreamParts(STREAM, user)
        payload = fill(DEFAULT.payload, topic.pk, 0)
        results = {
            "sample": sample.costs(payload, repeat),
            "equal": equal.costs({"topic": topic.pk, "text": "bench 0"}, repeat),
        }
        transaction.set_rollback(True)
    return results


def number(value):
    return "-" if value is None else f"{value:,.0f}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.peer.costs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeat", type=int, default=300, help="timings per part")
    options = parser.parse_args(argv)
    if DEFAULT is None:
        sys.exit(
            "python -m bench.peer.costs compares the sample app's comments with "
            "the peer's plain view: it needs the sample app (a bake with "
            "include_sample_app=y)."
        )
    if not apps.is_installed("bench.peer"):
        sys.exit("Run it with DJANGO_SETTINGS_MODULE=bench.settings.")
    results = measure(max(1, min(options.repeat, 100_000)))
    print(f"Per create, median of {options.repeat}, microseconds (this process):")
    print(f"  {'part':30s} {'sample':>8s} {'equal':>8s}")
    for key, label in PARTS:
        sample, equal = results["sample"][key], results["equal"][key]
        print(f"  {label:30s} {number(sample):>8s} {number(equal):>8s}")


if __name__ == "__main__":
    main()
