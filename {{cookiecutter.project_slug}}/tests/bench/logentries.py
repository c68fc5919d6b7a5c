"""Test-only streams to bench a project that has no model of its own.

Without the sample app there is nothing to create over the socket, so these
serve Django's own models: `users` (the parent) and `logentries` (the admin's
LogEntry: no unique field, so the app and the reference can create the same
payloads, and a foreign key to the user that subscriptions follow).

    daphne tests.bench.logentries_asgi:application
"""

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from rest_framework import serializers, viewsets

from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class UserViewSet(viewsets.ModelViewSet):
    queryset = get_user_model().objects.all()
    serializer_class = UserSerializer


class LogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LogEntry
        fields = ["id", "user", "object_repr", "action_flag"]


class LogEntryViewSet(viewsets.ModelViewSet):
    queryset = LogEntry.objects.order_by("id")
    serializer_class = LogEntrySerializer
    filterset_fields = ["user"]


class UserStream(Endpoint):
    view = UserViewSet
    stream = "users"


class LogEntryStream(Endpoint):
    view = LogEntryViewSet
    stream = "logentries"

    def get_group_names(self, obj):
        # One group per user too, so that `subscribe {"user": id}` hears of
        # entries created after it.
        return [*super().get_group_names(obj), f"logentries-user-{obj.user_id}"]

    def get_subscription_groups(self, subscription):
        if subscription.keys() == {"user"}:
            return {f"logentries-user-{subscription.data['user'].pk}"}
        return super().get_subscription_groups(subscription)


# What logentries_asgi.py serves and broadcasts.
registry = Registry()
registry.register(UserStream, LogEntryStream)
