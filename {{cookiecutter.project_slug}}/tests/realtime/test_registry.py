"""Registering endpoints: clear errors, a registry per demultiplexer, lazy state."""

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import path
from rest_framework import viewsets

from realtime_api.consumers import APIConsumer, APIDemultiplexer
from realtime_api.testing import AuthWebsocketCommunicator

from .whoami import WhoAmIView, username


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = get_user_model().objects.all()


def endpoint(stream, view=WhoAmIView, **attrs):
    return type(
        f"Endpoint_{stream}", (APIConsumer,), {"view": view, "stream": stream, **attrs}
    )


def test_a_stream_registered_twice_names_both_endpoints():
    """Two endpoints with one stream name are refused, and both are named."""

    class Demux(APIDemultiplexer):
        pass

    first, second = endpoint("same"), endpoint("same")
    Demux.register(first)
    with pytest.raises(ImproperlyConfigured) as error:
        Demux.register(second)
    message = str(error.value)
    assert "'same'" in message and first.__qualname__ in message
    assert second.__qualname__ in message
    Demux.register(first)  # Registering the same endpoint again is harmless.


def test_every_demultiplexer_has_its_own_registry():
    """Registering on one subclass changes neither the base nor a sibling."""

    class One(APIDemultiplexer):
        pass

    class Two(APIDemultiplexer):
        pass

    One.register(endpoint("only-on-one"))
    assert "only-on-one" in One.endpoints
    assert "only-on-one" not in Two.endpoints
    assert "only-on-one" not in APIDemultiplexer.endpoints


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"view": None}, "should include a `view` attribute"),
        ({"stream": "has/slash"}, "should include a `stream` attribute"),
        ({"stream": ""}, "should include a `stream` attribute"),
        ({"allowed_actions": ["list", "fly"]}, "unknown actions: fly"),
    ],
)
def test_a_misconfigured_endpoint_is_refused_with_a_clear_message(attrs, message):
    """register() says what is wrong, as DRF's generic views do."""

    class Demux(APIDemultiplexer):
        pass

    with pytest.raises(ImproperlyConfigured, match=message):
        Demux.register(endpoint(**{"stream": "ok", **attrs}))


def test_allowed_actions_default_to_what_the_view_implements():
    """A read-only viewset gets reads, options and subscriptions, no writes."""
    actions = endpoint("users", view=UserViewSet).get_allowed_actions()
    assert actions == {
        "list",
        "retrieve",
        "options",
        "subscribe",
        "unsubscribe",
        "watch",
        "unwatch",
    }
    assert "subscribe" not in endpoint("whoami").get_allowed_actions()


@pytest.mark.django_db(transaction=True)
async def test_nothing_is_built_per_endpoint_when_a_socket_connects():
    """Connecting builds no view or endpoint; a request builds only its own."""

    class Many(APIDemultiplexer):
        pass

    endpoints = [endpoint(f"stream-{i}") for i in range(50)]
    Many.register(*endpoints, endpoint("whoami"))
    application = AllowedHostsOriginValidator(
        AuthMiddlewareStack(URLRouter([path("ws/", Many.as_asgi())]))
    )
    async with AuthWebsocketCommunicator(application, "/ws/") as socket:
        assert not any("_view_functions" in e.__dict__ for e in endpoints)
        assert await username(socket) is None
        assert not any("_view_functions" in e.__dict__ for e in endpoints)
        assert "_view_functions" in Many.endpoints["whoami"].__dict__
