"""The AsyncAPI 3.0 document: valid, complete, served, and true to the frames."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from rest_framework import serializers, viewsets
from rest_framework.test import APIClient

from realtime_api.schema.asyncapi import build_document
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry as StreamRegistry
from realtime_api.streams.registry import get_registry
from realtime_api.testing.frame_check import FrameChecker, Transcript

from . import whoami

SPEC = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json"


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "name"]


class GroupViewSet(viewsets.ModelViewSet):
    """Groups, for the schema's tests."""

    queryset = Group.objects.order_by("pk")
    serializer_class = GroupSerializer


class GroupEndpoint(Endpoint):
    view = GroupViewSet
    stream = "groups"
    allowed_actions = ["list", "create", "subscribe", "watch", "unwatch"]
    subscription_field_mapping = {"ids": "pk__in"}


groups = StreamRegistry()
groups.register(GroupEndpoint)


def spec_validator():
    spec = json.loads(SPEC.read_text())
    resource = Resource.from_contents(spec, default_specification=DRAFT7)
    return Draft7Validator(
        spec, registry=Registry().with_resource(spec["$id"], resource)
    )


def problems(document):
    errors = spec_validator().iter_errors(document)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors]


@pytest.mark.parametrize(
    "registry", [None, groups, whoami.registry], ids=["project", "groups", "whoami"]
)
def test_the_document_is_valid_asyncapi_3(registry):
    """The official AsyncAPI 3.0.0 JSON Schema accepts the document."""
    document = build_document(registry)
    assert document["asyncapi"] == "3.0.0"
    assert problems(document) == []


def test_the_official_schema_catches_a_broken_document():
    """The validation is real: a wrong operation action fails it."""
    document = build_document(groups)
    document["operations"]["groups.list"]["action"] = "publish"
    assert problems(document)


def test_a_channel_per_stream_and_an_operation_per_allowed_action():
    """Operations follow allowed_actions; events exist where subscribe/watch do."""
    document = build_document(groups)
    # And the socket's own frame, reauthenticate (test_reauthenticate.py).
    assert set(document["channels"]) == {"groups", "reauthenticate"}
    assert set(document["operations"]) == {
        "reauthenticate",
        "groups.list",
        "groups.create",
        "groups.subscribe",
        "groups.watch",
        "groups.unwatch",
        "groups.events",
        "groups.watchEvents",
    }
    listing = build_document(whoami.registry)["operations"]
    assert "whoami.subscribe" not in listing  # No model: no subscriptions.
    assert "whoami.events" not in listing


def test_the_project_document_has_every_registered_stream():
    """Every stream of config/realtime.py and each of its actions is described."""
    document = build_document()
    streams = set(get_registry().names())
    assert set(document["channels"]) == {*streams, "reauthenticate"}
    for stream in get_registry():
        for action in stream.allowed_actions:
            assert f"{stream.stream}.{action}" in document["operations"]


def test_payloads_come_from_the_serializers():
    """Create takes the serializer's writable fields; events carry its output."""
    document = build_document(groups)
    messages = document["channels"]["groups"]["messages"]
    create = messages["createRequest"]["payload"]["properties"]["payload"]["anyOf"][0]
    assert create == {"$ref": "#/components/schemas/GroupRequest"}
    assert document["components"]["schemas"]["GroupRequest"]["required"] == ["name"]
    event = messages["changeEvent"]["payload"]["properties"]
    assert event["data"] == {"$ref": "#/components/schemas/Group"}
    assert event["action"] == {"enum": ["create", "update"]}
    subscribe = messages["subscribeRequest"]["payload"]["properties"]["payload"][
        "anyOf"
    ][0]
    assert set(subscribe["properties"]) == {"id", "name", "ids"}
    assert subscribe["additionalProperties"] is False


@pytest.mark.django_db
def test_the_document_is_served_and_printed():
    """GET /api/realtime/asyncapi.json (this host) and manage.py realtime_schema."""
    response = APIClient().get("/api/realtime/asyncapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["servers"]["api"] == {
        **served["servers"]["api"],
        "host": "testserver",
        "protocol": "ws",
    }
    output = StringIO()
    call_command(
        "realtime_schema", "--host", "api.example.com", "--secure", stdout=output
    )
    printed = json.loads(output.getvalue())
    assert printed["servers"]["api"]["host"] == "api.example.com"
    assert printed["servers"]["api"]["protocol"] == "wss"
    assert printed["channels"] == served["channels"]


def transcript(*frames):
    recorded = Transcript()
    recorded.record("open", "ws://testserver/ws/")
    for direction, frame in frames:
        recorded.record(
            direction, frame if isinstance(frame, str) else json.dumps(frame)
        )
    return recorded


def check(*frames):
    return FrameChecker(build_document(groups)).check([transcript(*frames)])


GROUP = {"id": 1, "name": "staff"}
CREATED = {
    "type": "response",
    "stream": "groups",
    "action": "create",
    "request_id": 1,
    "status": 201,
    "data": GROUP,
}
NOT_JSON = {
    "type": "response",
    "stream": None,
    "action": None,
    "request_id": None,
    "status": 400,
    "data": {"detail": "The frame is not valid JSON."},
}


def event(action, data=GROUP, **extra):
    return {
        "type": "event",
        "stream": "groups",
        "action": action,
        "data": data,
        **extra,
    }


def create(payload, request_id=1):
    return {"stream": "groups/create/", "payload": payload, "request_id": request_id}


def test_the_frame_check_accepts_what_the_protocol_says():
    """A request, its response, events and an error frame all match."""
    report = check(
        ("send", create({"name": "staff"})),
        ("receive", CREATED),
        ("receive", event("create", seq=3)),
        ("receive", event("leave", {"id": 1}, seq=4)),
        ("receive", event("enter", seq=5, watch="w1")),
        ("send", "not json"),
        ("receive", NOT_JSON),
    )
    assert report.problems == []
    assert report.checked == 6


@pytest.mark.parametrize(
    "frames",
    [
        # A response whose body lacks a field of the serializer.
        [("receive", {**CREATED, "data": {"id": 1}})],
        # An event with a key the document does not describe.
        [("receive", event("update", seq=1, extra=1))],
        # An event without its seq.
        [("receive", event("delete", {"id": 1}))],
        # A live query's event without its watch id is a subscription's: no enter.
        [("receive", event("enter", seq=1))],
        # A request the server accepted that the document says is wrong.
        [("send", create({})), ("receive", CREATED)],
        # An action the stream does not allow, answered as a success.
        [("receive", {**CREATED, "action": "delete", "status": 204, "data": None})],
    ],
    ids=["body", "extra key", "no seq", "enter", "request", "action"],
)
def test_the_frame_check_flags_frames_the_document_does_not_describe(frames):
    """Each frame that breaks the document is reported once."""
    assert len(check(*frames).problems) == 1


def test_refused_requests_are_not_checked_but_their_answers_are():
    """Tests send bad frames on purpose: the error response is what must match."""
    refused = {**CREATED, "status": 400, "data": {"name": ["This field is required."]}}
    report = check(("send", create({})), ("receive", refused))
    assert report.problems == []
    assert report.checked == 1


def test_frames_of_streams_outside_the_document_are_counted():
    """Test-only streams are counted as not described, not failed."""
    report = check(("receive", {**CREATED, "stream": "elsewhere"}))
    assert (report.checked, report.undescribed) == (0, 1)


def test_presence_is_described_where_a_stream_has_it():
    """join, leave, signal and their events on folders (presence = True) only."""
    from .testapp.streams import registry

    document = build_document(registry)
    assert problems(document) == []
    operations = set(document["operations"])
    presence = {"join", "leave", "signal", "presenceEvents"}
    assert {f"folders.{name}" for name in presence} <= operations
    assert not {f"notes.{name}" for name in presence} & operations
    member = {"id": 7, "name": "alice"}
    joined = {
        "type": "response",
        "stream": "folders",
        "action": "join",
        "lookup": "3",
        "request_id": 1,
        "status": 200,
        "data": {"members": [member]},
    }
    presence_event = {
        "type": "event",
        "stream": "folders",
        "action": "presence",
        "lookup": "3",
        "data": {"joined": [member], "left": []},
    }
    signal = {
        **presence_event,
        "action": "signal",
        "data": {"from": member, "payload": {"typing": True}},
    }
    frames = [
        ("send", {"stream": "folders/join/3/", "request_id": 1}),
        ("receive", joined),
        ("receive", presence_event),
        ("receive", signal),
    ]
    checker = FrameChecker(document)
    report = checker.check([transcript(*frames)])
    assert (report.problems, report.checked) == ([], 4)
    # Presence events are not logged: one with a seq is not what the server sends.
    report = checker.check([transcript(("receive", {**signal, "seq": 4}))])
    assert len(report.problems) == 1


def test_extra_actions_are_operations_with_their_bodies():
    """Each @action: an operation, its request (method when several) and response."""
    from .testapp.streams import registry as testapp_registry

    document = build_document(testapp_registry)
    assert problems(document) == []
    operations = document["operations"]
    for name in ("archive", "recent-first", "label"):
        assert f"folders.{name}" in operations
    assert operations["folders.archive"]["summary"].startswith("Make a folder private")
    messages = document["channels"]["folders"]["messages"]
    label = messages["labelRequest"]["payload"]
    assert label["properties"]["method"] == {
        "enum": ["get", "put"],
        "description": "The HTTP method to run it as; 'get' by default.",
    }
    # GET reads query parameters; PUT takes FolderName's body.
    bodies = label["properties"]["payload"]["anyOf"][0]["anyOf"]
    assert {"$ref": "#/components/schemas/FolderNameRequest"} in bodies
    assert "method" not in messages["archiveRequest"]["payload"]["properties"]
    response = messages["labelResponse"]["payload"]["properties"]["data"]
    assert response == {"$ref": "#/components/schemas/FolderName"}
    recent = messages["recent-firstResponse"]["payload"]["properties"]["data"]
    assert recent == {"$ref": "#/components/schemas/PaginatedFolderList"}
    # A view without a model: requests, no subscriptions.
    assert "stats.echo" in operations and "stats.list" in operations
    assert "stats.subscribe" not in operations


def test_the_frame_check_reads_extra_action_frames():
    """A `label` PUT frame and its answer match the document; a wrong method not."""
    from .testapp.streams import registry as testapp_registry

    checker = FrameChecker(build_document(testapp_registry))
    request = {
        "stream": "folders/label/3/",
        "method": "put",
        "payload": {"name": "Pears"},
        "request_id": 1,
    }
    answer = {
        "type": "response",
        "stream": "folders",
        "action": "label",
        "lookup": "3",
        "request_id": 1,
        "status": 200,
        "data": {"id": 3, "name": "Pears"},
    }
    good = checker.check([transcript(("send", request), ("receive", answer))])
    assert good.problems == [], good.problems
    wrong = {**request, "method": "patch"}
    bad = checker.check([transcript(("send", wrong), ("receive", answer))])
    assert bad.problems
