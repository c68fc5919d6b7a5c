"""PROTOCOL.md "Extra actions": every @action of a view is an action of its stream.

The test app's FolderViewSet has three, added with no change in
realtime_api/: `archive` (detail, POST, its own permission and throttle
classes), `recent-first` (a list one) and `label` (detail, GET and PUT, its
own serializer and authentication classes). `stats` (a plain ViewSet) and
`words` (a GenericViewSet) have no queryset. Each answer over the socket is
compared with the same request over HTTP (`http_twin`).
"""

import pytest
from django.core import checks
from rest_framework.decorators import action
from rest_framework.response import Response

from realtime_api.apps import check_extra_actions
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry
from realtime_api.testing import subscribe

from .helpers import communicator, http_twin, snapshot
from .testapp.models import Folder
from .testapp.views import FolderViewSet

pytestmark = pytest.mark.django_db(transaction=True)

# (actor, action, object, payload, method) -> the answer both ways agree on.
# Objects: "public" (the owner's), "private" (the owner's, hidden from
# others), "missing" (no such folder), None (a list action).
PARITY_CASES = {
    "archive by owner": ("owner", "archive", "public", {}, None, 200),
    "archive by other": ("other", "archive", "public", {}, None, 403),
    "archive anonymous": ("anonymous", "archive", "public", {}, None, 403),
    "archive hidden": ("other", "archive", "private", {}, None, 404),
    "archive missing": ("owner", "archive", "missing", {}, None, 404),
    "archive unmapped GET": ("owner", "archive", "public", {}, "get", 405),
    "archive unmapped DELETE": ("owner", "archive", "public", {}, "delete", 405),
    "recent anonymous": ("anonymous", "recent-first", None, {}, None, 200),
    "recent paginated": ("owner", "recent-first", None, {"page_size": 1}, None, 200),
    "recent out of range": ("owner", "recent-first", None, {"page": 9}, None, 404),
    "recent unmapped POST": ("owner", "recent-first", None, {}, "post", 405),
    "label GET": ("anonymous", "label", "public", {}, None, 200),
    "label GET hidden": ("other", "label", "private", {}, "get", 404),
    "label PUT by owner": ("owner", "label", "public", {"name": "Pears"}, "put", 200),
    "label PUT invalid": ("owner", "label", "public", {"name": ""}, "put", 400),
    "label PUT anonymous": ("anonymous", "label", "public", {"name": "x"}, "put", 401),
    "label PUT by other": ("other", "label", "public", {"name": "x"}, "put", 403),
    "label unmapped PATCH": ("owner", "label", "public", {}, "patch", 405),
}


def lookup_of(world, name):
    return {
        None: None,
        "public": world.public_folder.pk,
        "private": world.private_folder.pk,
        "missing": 999999,
    }[name]


@pytest.mark.parametrize("case", PARITY_CASES.values(), ids=PARITY_CASES.keys())
async def test_an_extra_action_answers_as_its_http_route(
    world, users, clear_cache, case
):
    """Status and body are the HTTP route's, for each method and refusal."""
    role, name, obj, payload, method, status = case
    actor, lookup = users[role], lookup_of(world, obj)
    http = await http_twin(actor, "folders", name, lookup, payload, True, method)
    extra = {"method": method} if method else {}
    async with communicator(actor) as ws:
        response = await ws.request("folders", name, lookup, payload, **extra)
    assert (response["status"], response["data"]) == http
    assert response["status"] == status, response


async def test_an_extra_action_runs_the_view_as_the_router_builds_it(world, user):
    """Its serializer_class, self.action, and the write it makes."""
    pk = world.public_folder.pk
    async with communicator(user) as ws:
        read = await ws.request("folders", "label", pk)
        written = await ws.request(
            "folders", "label", pk, {"name": "Kiwis"}, method="put"
        )
        archived = await ws.request("folders", "archive", pk)
    assert read["data"] == {"id": pk, "name": "Apples"}  # FolderNameSerializer
    assert written["data"] == {"id": pk, "name": "Kiwis", "action": "label"}
    assert archived["data"]["is_private"] is True
    folder = await Folder.objects.aget(pk=pk)
    assert (folder.name, folder.is_private) == ("Kiwis", True)


async def test_the_path_form_and_the_structured_form_are_the_same(world, user):
    """`folders/label/3/` and {"stream": "folders", "action": "label", ...}."""
    pk = world.public_folder.pk
    async with communicator(user) as ws:
        path = await ws.request("folders", "label", pk)
        await ws.send_json_to(
            {"stream": "folders", "action": "label", "lookup": pk, "request_id": "s"}
        )
        structured = await ws.receive_json_from()
    assert path["status"] == structured["status"] == 200
    assert structured["data"] == path["data"] == {"id": pk, "name": "Apples"}
    assert (structured["action"], structured["lookup"]) == ("label", str(pk))


async def test_an_extra_action_is_throttled_by_its_own_throttle(
    world, user, clear_cache
):
    """`archive`'s 3/min, counted over HTTP and the socket alike: then 429."""
    pk = world.public_folder.pk
    async with communicator(user) as ws:
        for _ in range(2):
            assert (await ws.request("folders", "archive", pk))["status"] == 200
        assert (await http_twin(user, "folders", "archive", pk))[0] == 200
        refused = await ws.request("folders", "archive", pk)
        # Other actions of the view keep the view's throttles (none here).
        assert (await ws.request("folders", "label", pk))["status"] == 200
    status, body = await http_twin(user, "folders", "archive", pk)
    assert refused["status"] == status == 429
    assert refused["data"]["detail"].startswith("Request was throttled.")
    assert body["detail"].startswith("Request was throttled.")
    assert 0 < refused["data"]["wait"] <= 60


async def test_a_lookup_where_the_action_takes_none_or_none_where_it_needs_one(
    world, user
):
    """A detail action without a lookup, or a list one with one: 400."""
    before = await snapshot()
    async with communicator(user) as ws:
        missing = await ws.request("folders", "archive")
        extra = await ws.request("folders", "recent-first", world.public_folder.pk)
        bad = await ws.request("folders", "label", "no/such")
    assert missing["status"] == 400 and "needs a lookup" in missing["data"]["detail"]
    assert extra["status"] == 400 and "takes no lookup" in extra["data"]["detail"]
    assert bad["status"] == 400
    assert await snapshot() == before


async def test_a_method_that_is_not_one_is_a_400(world, user):
    """ "method" is one of get, post, put, patch, delete."""
    async with communicator(user) as ws:
        for method in ("fly", 3, ["get"]):
            response = await ws.request(
                "folders", "label", world.public_folder.pk, method=method
            )
            assert response["status"] == 400, response
            assert "method must be one of" in response["data"]["detail"]


async def test_a_builtin_action_takes_only_its_own_method(world, user):
    """`retrieve` is a GET: "method": "delete" does not make it a delete."""
    pk = world.public_folder.pk
    async with communicator(user) as ws:
        other = await ws.request("folders", "retrieve", pk, method="delete")
        same = await ws.request("folders", "retrieve", pk, method="GET")
    assert other["status"] == 405 and "takes GET" in other["data"]["detail"]
    assert same["status"] == 200
    assert await Folder.objects.filter(pk=pk).aexists()


async def test_a_save_inside_an_action_broadcasts(world, user):
    """`archive` saves the folder: its subscribers hear an update event."""
    pk = world.public_folder.pk
    async with communicator(user) as listener, communicator(user) as ws:
        await subscribe(listener, "folders", {"ids": [pk]})
        assert (await ws.request("folders", "archive", pk))["status"] == 200
        event = await listener.receive_json_from(timeout=5)
    assert (event["type"], event["action"]) == ("event", "update")
    assert event["data"]["is_private"] is True
    assert (200, event["data"]) == await http_twin(user, "folders", "retrieve", pk)


# --- Views without a queryset ------------------------------------------------


@pytest.mark.parametrize(
    ("role", "stream", "name", "payload", "status"),
    [
        ("anonymous", "stats", "list", {}, 200),
        ("owner", "stats", "list", {}, 200),
        ("owner", "stats", "echo", {"a": [1, 2]}, 200),
        ("anonymous", "words", "count", {"word": "app"}, 403),
        ("owner", "words", "count", {"word": "app"}, 200),
        ("owner", "words", "count", {}, 400),
    ],
)
async def test_a_view_without_a_queryset_serves_requests(
    world, users, role, stream, name, payload, status
):
    """A plain ViewSet and a GenericViewSet answer as over HTTP."""
    actor = users[role]
    async with communicator(actor) as ws:
        response = await ws.request(stream, name, payload=payload)
    assert (response["status"], response["data"]) == await http_twin(
        actor, stream, name, payload=payload
    )
    assert response["status"] == status


@pytest.mark.parametrize("verb", ["subscribe", "unsubscribe", "watch", "unwatch"])
async def test_a_view_without_a_model_refuses_subscriptions_saying_why(user, verb):
    """No model, no events: a 400 naming the reason, not a bare 405."""
    async with communicator(user) as ws:
        response = await ws.request("stats", verb, payload={"id": 1})
        assert (await ws.request("stats", "list"))["status"] == 200
    assert response["status"] == 400
    assert "has no model" in response["data"]["detail"]
    assert "Set `model`" in response["data"]["detail"]


async def test_an_action_the_view_lacks_is_still_a_405(user):
    """`words` has no list: `list` is refused as before."""
    async with communicator(user) as ws:
        response = await ws.request("words", "list")
    assert response["status"] == 405


# --- Start-up checks -----------------------------------------------------------


class ClashingViewSet(FolderViewSet):
    @action(detail=True, methods=["post"])
    def subscribe(self, request, pk=None):
        return Response({})

    @action(detail=False, url_path="replace")
    def swap(self, request):
        return Response({})


class SlashViewSet(FolderViewSet):
    @action(detail=True, url_path="sub/path")
    def nested(self, request, pk=None):
        return Response({"action": self.action})


class SlashStream(Endpoint):
    view = SlashViewSet
    stream = "slash"


class ClashingStream(Endpoint):
    view = ClashingViewSet
    stream = "clashing"


clashing_registry = Registry()
clashing_registry.register(ClashingStream)
slash_registry = Registry()
slash_registry.register(SlashStream)


def test_an_extra_action_named_like_a_protocol_verb_fails_the_system_check(
    settings,
):
    """`manage.py check` names the view, the action and the fix (url_path=...)."""
    settings.REALTIME_API_REGISTRY = f"{__name__}.clashing_registry"
    errors = check_extra_actions(None)
    assert [error.id for error in errors] == ["realtime_api.E006"] * 2
    assert all(error.level == checks.ERROR for error in errors)
    subscribe_error, replace_error = errors
    assert "ClashingViewSet.subscribe" in subscribe_error.msg
    assert "url_path 'subscribe'" in subscribe_error.msg
    assert 'url_path="subscribe-subscribe"' not in subscribe_error.hint
    assert "url_path=" in subscribe_error.hint
    assert "ClashingViewSet.swap" in replace_error.msg
    assert "'replace'" in replace_error.msg
    # The clashing actions are not served: the protocol's verbs keep their meaning.
    adapter = clashing_registry.get("clashing")
    assert adapter.actions["subscribe"].kind == "subscription"
    assert adapter.actions["replace"].kind == "rest"


def test_the_project_passes_the_check():
    """The test app's and the sample's @actions clash with nothing."""
    assert check_extra_actions(None) == []


def test_allowed_actions_may_name_extra_actions():
    """`allowed_actions` narrows extra actions as it narrows the others."""

    class Narrow(Endpoint):
        view = FolderViewSet
        stream = "narrow"
        allowed_actions = ["retrieve", "label"]

    registry = Registry()
    registry.register(Narrow)
    assert registry.get("narrow").allowed_actions == {"retrieve", "label"}


def test_the_action_table_reads_the_view_as_the_router_does():
    """Each @action: its url_path, detail, methods in order, url_name."""
    registry = Registry()
    registry.register(
        type("Folders", (Endpoint,), {"view": FolderViewSet, "stream": "f"})
    )
    actions = registry.get("f").actions
    assert {
        name: (a.detail, a.methods, a.url_name)
        for name, a in actions.items()
        if a.kind == "extra"
    } == {
        "archive": (True, ("post",), "archive"),
        "recent-first": (False, ("get",), "recent"),
        "label": (True, ("get", "put"), "label"),
    }


def test_a_url_path_with_a_slash_is_a_warning_and_served_in_the_structured_form(
    settings,
):
    """The path form splits at '/': the check says so; the structured form works."""
    settings.REALTIME_API_REGISTRY = f"{__name__}.slash_registry"
    (warning,) = check_extra_actions(None)
    assert (warning.id, warning.level) == ("realtime_api.W006", checks.WARNING)
    assert "SlashViewSet.nested" in warning.msg and "'sub/path'" in warning.msg
    assert '"action": "sub/path"' in warning.hint
    assert "sub/path" in slash_registry.get("slash").actions
