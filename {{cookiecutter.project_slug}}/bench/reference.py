"""The reference endpoint: the least a Channels consumer does for the same work.

`python -m bench` reports the app's figures as ratios to this consumer's,
measured in the same run, on the same server and channel layer. It follows
the Channels tutorial: JSON in, one ORM write, a plain `group_send`, and every
subscriber encodes the event itself. It checks nothing (no permissions, no
validation but the database's) and serves only `create` and `subscribe`,
with PROTOCOL.md's frame shapes so that the same client drives both.

The model it writes is named by the socket's query string,
`/bench/minimal/?model=app_label.ModelName` (the load's `--model`), so that
the server needs no configuration to bench any model of the project.
"""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder


def model_of(scope):
    """The model named by the socket's `?model=` (LookupError, ValueError if none)."""
    query = parse_qs(scope["query_string"].decode("latin-1"))
    label = query.get("model", [""])[0]
    if not label:
        raise LookupError(
            "Name the model the reference writes: connect to "
            "/bench/minimal/?model=app_label.ModelName (python -m bench --model)."
        )
    return apps.get_model(label)


def group_name(field, value):
    return f"bench-{field}-{value}"


class MinimalConsumer(AsyncWebsocketConsumer):
    """Create objects and fan their creation out to `subscribe`d groups."""

    # Set by the first create from the query string (see model_of()): an idle
    # socket (W3) holds no more than the tutorial's consumer does.
    model = None

    async def connect(self):
        self.joined = set()
        await self.accept()

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        stream, action = frame["stream"].strip("/").split("/")[:2]
        payload = frame.get("payload") or {}
        status, data = 405, {"detail": f"The reference does not {action}."}
        if action == "create":
            try:
                data = await database_sync_to_async(self.create)(payload)
                status = 201
            except Exception as exc:  # No such model, a missing field, ...
                status, data = 400, {"detail": f"{type(exc).__name__}: {exc}"}
            else:
                event = {"type": "bench.event", "stream": stream, "data": data}
                for group in self.groups_of(data):
                    await self.channel_layer.group_send(group, event)
        elif action == "subscribe":
            for field, value in payload.items():
                group = group_name(field, value)
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined.add(group)
            status, data = 200, {"detail": "subscribed"}
        response = {
            "type": "response",
            "stream": stream,
            "action": action,
            "request_id": frame.get("request_id"),
            "status": status,
            "data": data,
        }
        await self.send(text_data=json.dumps(response))

    def create(self, payload):
        """Write one object; foreign keys to the user model default to the user."""
        self.model = model = self.model or model_of(self.scope)
        user = self.scope.get("user")
        user_model = get_user_model()
        values = {}
        for field in model._meta.concrete_fields:
            if field.name in payload:
                values[field.attname] = payload[field.name]
            elif field.is_relation and field.related_model is user_model:
                values[field.attname] = user.pk
        obj = model(**values)
        # bulk_create sends no signals: the app's broadcast must not run for
        # the reference's writes, or the reference would pay for it too.
        model._default_manager.bulk_create([obj])
        data = {
            field.name: field.value_from_object(obj)
            for field in model._meta.concrete_fields
        }
        # What a message on a Redis layer can carry: JSON types only.
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder))

    def groups_of(self, data):
        """One group per foreign key value: `subscribe {"topic": 3}` hears it."""
        model = self.model
        return [
            group_name(field.name, data[field.name])
            for field in model._meta.concrete_fields
            if field.many_to_one and data.get(field.name) is not None
        ]

    async def bench_event(self, message):
        """Every subscriber encodes the event, as the Channels tutorial does."""
        event = {
            "type": "event",
            "stream": message["stream"],
            "action": "create",
            "data": message["data"],
        }
        await self.send(text_data=json.dumps(event))
