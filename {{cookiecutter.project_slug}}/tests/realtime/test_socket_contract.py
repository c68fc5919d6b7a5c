"""The socket's parts keep to their declared contracts (sockets/contract.py).

Each part mixed into APIDemultiplexer uses of `self` only its own attributes
and the SocketConsumer protocol's, and its docstring's "Needs", "Provides"
and "Extends Channels'" say exactly which; nothing overrides Channels'
`__call__` (frames are read by sockets/frame_reader.py).
"""

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from channels.consumer import AsyncConsumer

import realtime_api
from realtime_api.auth.reauthenticate import ReauthenticateMixin
from realtime_api.auth.revocation import GroupUserConsumer
from realtime_api.limits.overload import OverloadMixin
from realtime_api.presence.requests import PresenceMixin
from realtime_api.sockets.contract import SocketConsumer
from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.sockets.subscriptions import SubscriptionMixin
from realtime_api.sockets.watch import WatchMixin

PARTS = [
    OverloadMixin,
    SubscriptionMixin,
    WatchMixin,
    PresenceMixin,
    ReauthenticateMixin,
]
SELF_ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr"}


def class_tree(cls):
    source = textwrap.dedent(inspect.getsource(cls))
    return next(node for node in ast.parse(source).body if node.name == cls.__name__)


def own_names(cls):
    """Names the class itself defines: methods, class attributes, `self.x =`."""
    tree = class_tree(cls)
    names = set()
    for item in tree.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
    return names


def self_uses(cls):
    """(read, assigned): the `self` attributes the class's code names."""
    read, assigned = set(), set()
    for node in ast.walk(class_tree(cls)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            (assigned if isinstance(node.ctx, ast.Store) else read).add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in SELF_ATTRIBUTE_CALLS
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
        ):
            name = node.args[1]  # A computed name is no declared one.
            read.add(name.value if isinstance(name, ast.Constant) else "<computed>")
    return read, assigned


def assigned_names(cls):
    return self_uses(cls)[1] | own_names(cls)


def protocol_names():
    names = set(SocketConsumer.__annotations__)
    names.update(
        name
        for name, value in vars(SocketConsumer).items()
        if inspect.isfunction(value) and not name.startswith("_")
    )
    return names


def declared(cls, label):
    """The names after `label:` in the class's docstring (to the full stop)."""
    pattern = rf"^\s*{re.escape(label)}[^:\n]*:(.*?)\.$"
    match = re.search(pattern, cls.__doc__, re.MULTILINE | re.DOTALL)
    if match is None:
        return set()
    return set(re.findall(r"\w+", match.group(1)))


def provided():
    """What the parts say they provide, together."""
    return set().union(*(declared(part, "Provides") for part in PARTS))


def channels_names():
    """What Channels' consumer (through GroupUserConsumer) has."""
    return set(dir(GroupUserConsumer)) | assigned_names(AsyncConsumer)


def overridden(cls):
    """The part's methods that a class after it in the consumer's MRO defines."""
    later = APIDemultiplexer.__mro__[APIDemultiplexer.__mro__.index(cls) + 1 :]
    methods = {
        name
        for name in own_names(cls)
        if inspect.isfunction(vars(cls).get(name))
        or inspect.iscoroutinefunction(vars(cls).get(name))
    }
    return {name for name in methods if any(name in vars(base) for base in later)}


@pytest.mark.parametrize("part", PARTS, ids=lambda part: part.__name__)
def test_a_part_uses_only_what_it_declares(part):
    read, assigned = self_uses(part)
    own = own_names(part)
    needs = declared(part, "Needs")
    assert "__dict__" not in read, f"{part.__name__} reaches into self.__dict__"
    assert (read | assigned) - own == needs, (
        f"{part.__name__}: its docstring's Needs must name exactly what it uses "
        "of the consumer"
    )
    assert needs <= protocol_names(), (
        f"{part.__name__} needs what sockets/contract.py does not declare: "
        f"{needs - protocol_names()}"
    )


@pytest.mark.parametrize("part", PARTS, ids=lambda part: part.__name__)
def test_a_part_provides_and_extends_what_it_says(part):
    own = own_names(part)
    provides = declared(part, "Provides")
    assert provides <= own, f"{part.__name__} provides what it lacks"
    assert protocol_names() & own <= provides, (
        f"{part.__name__}: what the protocol takes from it is in its Provides"
    )
    assert overridden(part) == declared(part, "Extends Channels'"), (
        f"{part.__name__}: its docstring names the methods it extends"
    )


def test_the_protocol_is_what_the_parts_need_and_the_consumer_has():
    needed = set().union(*(declared(part, "Needs") for part in PARTS))
    assert protocol_names() == needed
    has = set().union(*(assigned_names(cls) for cls in APIDemultiplexer.__mro__[:-1]))
    has.update(dir(APIDemultiplexer))
    assert protocol_names() <= has


def test_the_consumer_uses_its_parts_through_what_they_provide():
    read, _ = self_uses(APIDemultiplexer)
    missing = read - assigned_names(APIDemultiplexer) - provided() - channels_names()
    assert not missing, f"APIDemultiplexer uses what no part provides: {missing}"


def test_the_rest_of_the_app_uses_a_socket_through_its_contract():
    """What other modules name of a `socket` or `consumer` is declared too."""
    offered = protocol_names() | assigned_names(APIDemultiplexer)
    offered |= provided() | channels_names()
    app = Path(realtime_api.__file__).parent
    for path in app.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.parent.name in {"client", "testing"} or any(
            isinstance(node, ast.Import)
            and any(alias.name == "socket" for alias in node.names)
            for node in ast.walk(tree)
        ):
            continue  # Python's socket module, not a consumer.
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if (isinstance(base, ast.Name) and base.id in {"socket", "consumer"}) or (
                isinstance(base, ast.Attribute) and base.attr == "socket"
            ):
                assert node.attr in offered, (
                    f"{path.relative_to(app)}: socket.{node.attr} is undeclared"
                )


def test_nothing_overrides_channels_call():
    assert APIDemultiplexer.__call__ is AsyncConsumer.__call__
    for cls in APIDemultiplexer.__mro__:
        if "__call__" in vars(cls):
            assert cls is AsyncConsumer, f"{cls.__name__} defines __call__"
