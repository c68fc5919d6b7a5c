"""Filters only on readable fields (PROTOCOL.md, Subscriptions).

The `sealed` stream (extra_streams.py) serves folders whose `name` is
write-only and whose `is_private` only staff can read. A subscription filter
on either would answer yes/no questions about a value its user cannot read;
it is refused with 400, exactly as a key that names no field.
"""

import random
import string

import pytest

from .extra_streams import extra_application
from .helpers import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def sealed_socket(user):
    return communicator(user, application=extra_application)


def answer(response, key):
    """A response with the key's own name taken out: what a guess learns."""
    detail = response["data"].get("detail", "")
    return response["status"], str(detail).replace(f"'{key}'", "'<key>'")


async def test_a_write_only_field_is_refused_as_a_missing_one(world, user):
    """`{"name": <the right name>}` answers as `{"nonexistent": ...}`: 400, no count."""
    async with sealed_socket(user) as ws:
        right = await ws.request("sealed", "subscribe", payload={"name": "Apples"})
        missing = await ws.request("sealed", "subscribe", payload={"nope": "Apples"})
        readable = await ws.request("sealed", "subscribe", payload={"owner": "user"})
    assert right["status"] == 400, right
    assert "'name'" in right["data"]["detail"], right
    assert answer(right, "name") == answer(missing, "nope")
    # The list of usable keys names neither hidden field.
    assert "name" not in right["data"]["detail"].split("Use one of:")[1]
    assert readable["status"] == 200, readable


async def test_a_field_hidden_from_this_user_is_refused_and_shown_to_staff(
    world, user, admin
):
    """`is_private` filters for staff, who read it; for others it is unknown."""
    async with sealed_socket(user) as ws:
        hidden = await ws.request("sealed", "subscribe", payload={"is_private": True})
        missing = await ws.request("sealed", "subscribe", payload={"nope": True})
    assert hidden["status"] == 400, hidden
    assert answer(hidden, "is_private") == answer(missing, "nope")
    async with sealed_socket(admin) as ws:
        shown = await ws.request("sealed", "subscribe", payload={"is_private": True})
    assert shown["status"] == 200, shown


async def test_a_mapping_key_stays_a_filter_even_over_a_write_only_field(world, user):
    """`subscription_field_mapping` is the endpoint author's choice: it filters."""
    async with sealed_socket(user) as ws:
        mapped = await ws.request(
            "sealed-by-name", "subscribe", payload={"name": "apples"}
        )
    assert (mapped["status"], mapped["data"]["matched"]) == (200, 1), mapped


async def test_guesses_of_a_write_only_value_all_get_the_same_answer(world, user):
    """Random guesses (the right one among them, lists too): one answer for all,
    the same as for a field that does not exist."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    names = ["Apples", "Secrets", "Bananas"]

    def guess():
        kind = rng.randrange(5)
        if kind == 0:
            return rng.choice(names)
        if kind == 1:
            return rng.choice(names)[: rng.randrange(1, 6)]
        if kind == 2:
            return [rng.choice(names) for _ in range(rng.randrange(1, 4))]
        if kind == 3:
            return rng.choice([None, 0, True, {"x": 1}, ""])
        return "".join(rng.choices(string.printable, k=rng.randrange(1, 12)))

    answers = set()
    async with sealed_socket(user) as ws:
        baseline = answer(
            await ws.request("sealed", "subscribe", payload={"nope": "x"}), "nope"
        )
        for _ in range(30):
            payload = {"name": guess()}
            if rng.random() < 0.3:
                payload["owner"] = "user"  # Beside a readable field too.
            response = await ws.request("sealed", "subscribe", payload=payload)
            answers.add(answer(response, "name"))
            hidden = {"is_private": rng.choice([True, False, "yes", 1])}
            response = await ws.request("sealed", "subscribe", payload=hidden)
            answers.add(answer(response, "is_private"))
    assert answers == {baseline}, f"seed {seed}: {answers}"


async def test_a_watch_filters_as_the_http_list_does(world, user):
    """A watch is a `list`: its filters are the view's filter backends', as over
    HTTP (here `name` is no filterset field: ignored, as HTTP ignores it)."""
    async with sealed_socket(user) as ws:
        for payload in ({"name": "Apples"}, {"name": "nothing"}, {}):
            listed = await ws.request("sealed", "list", payload=payload)
            watched = await ws.request("sealed", "watch", payload=payload)
            assert (watched["status"], watched["data"]) == (
                listed["status"],
                listed["data"],
            ), payload
