"""Registering endpoints: clear errors, registries of their own, lazy state."""

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import path
from rest_framework import viewsets

from realtime_api.sockets.demultiplexer import APIDemultiplexer
from realtime_api.streams.endpoints import Endpoint
from realtime_api.streams.registry import Registry, get_registry
from realtime_api.testing import AuthWebsocketCommunicator

from .whoami import WhoAmIView, username


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = get_user_model().objects.all()


def endpoint(stream, view=WhoAmIView, **attrs):
    return type(
        f"Endpoint_{stream}", (Endpoint,), {"view": view, "stream": stream, **attrs}
    )


def test_a_stream_registered_twice_names_both_endpoints():
    """Two endpoints with one stream name are refused, and both are named."""
    registry = Registry()
    first, second = endpoint("same"), endpoint("same")
    registry.register(first)
    with pytest.raises(ImproperlyConfigured) as error:
        registry.register(second)
    message = str(error.value)
    assert "'same'" in message and first.__qualname__ in message
    assert second.__qualname__ in message
    registry.register(first)  # Registering the same endpoint again is harmless.


def test_every_registry_is_its_own():
    """Registering in one registry changes neither the project's nor another."""
    one, two = Registry(), Registry()
    one.register(endpoint("only-in-one"))
    assert "only-in-one" in one
    assert "only-in-one" not in two
    assert "only-in-one" not in get_registry()


def test_the_project_registry_is_the_setting(settings):
    """REALTIME_API_REGISTRY names the registry; anything else is refused clearly."""
    assert get_registry() is get_registry()
    settings.REALTIME_API_REGISTRY = "tests.realtime.whoami.registry"
    assert "whoami" in get_registry()
    settings.REALTIME_API_REGISTRY = "tests.realtime.whoami.WhoAmIView"
    with pytest.raises(ImproperlyConfigured, match="not a realtime_api"):
        get_registry()


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"view": None}, "should include a `view` attribute"),
        ({"stream": "has/slash"}, "should include a `stream` attribute"),
        ({"stream": ""}, "should include a `stream` attribute"),
        ({"allowed_actions": ["list", "fly"]}, "unknown actions: fly"),
        (
            {"view": UserViewSet, "visibility_depends_on": {"username": ["x"]}},
            "visibility_depends_on names 'username': use a ForeignKey",
        ),
    ],
)
def test_a_misconfigured_endpoint_is_refused_with_a_clear_message(attrs, message):
    """register() says what is wrong, as DRF's generic views do."""
    with pytest.raises(ImproperlyConfigured, match=message):
        Registry().register(endpoint(**{"stream": "ok", **attrs}))


def test_allowed_actions_default_to_what_the_view_implements():
    """A read-only viewset gets reads, options and subscriptions, no writes."""
    registry = Registry()
    registry.register(endpoint("users", view=UserViewSet), endpoint("whoami"))
    assert registry.get("users").allowed_actions == {
        "list",
        "retrieve",
        "options",
        "subscribe",
        "unsubscribe",
        "watch",
        "unwatch",
    }
    assert "subscribe" not in registry.get("whoami").allowed_actions


@pytest.mark.django_db(transaction=True)
async def test_nothing_is_built_per_endpoint_when_a_socket_connects(monkeypatch):
    """Connecting builds no endpoint; a request builds only its own."""
    registry = Registry()
    registry.register(*[endpoint(f"stream-{i}") for i in range(50)], endpoint("whoami"))
    built = []
    original = Endpoint.__init__

    def counting_init(self, adapter, *args, **kwargs):
        built.append(adapter.stream)
        original(self, adapter, *args, **kwargs)

    monkeypatch.setattr(Endpoint, "__init__", counting_init)
    application = AllowedHostsOriginValidator(
        AuthMiddlewareStack(
            URLRouter([path("ws/", APIDemultiplexer.as_asgi(registry=registry))])
        )
    )
    async with AuthWebsocketCommunicator(application, "/ws/") as socket:
        assert built == []
        assert await username(socket) is None
        assert built == ["whoami"]
