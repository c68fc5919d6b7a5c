"""The streams a project serves: one `Registry`, filled in `config/realtime.py`.

Like a DRF router for HTTP, the registry is the one place that says what the
socket serves. Routing (the socket), broadcasting (the model signals) and the
schema all read it; nothing registers itself on import.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models import Model
from django.utils.module_loading import import_string

from realtime_api import conf
from realtime_api.protocol import REAUTHENTICATE
from realtime_api.runtime import Runtime
from realtime_api.streams.view_adapter import ViewAdapter

if TYPE_CHECKING:
    from realtime_api.streams.endpoints import Endpoint

ModelClass = type[Model]


class Registry:
    """Endpoints by stream name, and what each model's changes reach."""

    def __init__(self) -> None:
        self._adapters: dict[str, ViewAdapter] = {}  # stream name -> ViewAdapter
        # model -> adapters that broadcast its changes
        self._by_model: dict[ModelClass, list[ViewAdapter]] = {}
        # model -> (adapter, field) whose visibility it decides
        self._dependents: dict[ModelClass, list[tuple[ViewAdapter, str]]] = {}
        # event loop -> Runtime
        self._runtimes: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, Runtime
        ] = weakref.WeakKeyDictionary()

    def register(self, *endpoint_classes: type[Endpoint]) -> None:
        """Serve each endpoint class as its `stream`; broadcast its model's changes."""
        for endpoint_class in endpoint_classes:
            adapter = ViewAdapter(endpoint_class)
            if adapter.stream == REAUTHENTICATE:
                raise ImproperlyConfigured(
                    f"{_name(endpoint_class)}: a stream cannot be named "
                    f"'{REAUTHENTICATE}', the frame that refreshes a socket's "
                    "credentials (PROTOCOL.md): set another `stream`."
                )
            taken = self._adapters.get(adapter.stream)
            if taken is not None:
                if taken.endpoint_class is endpoint_class:
                    continue
                raise ImproperlyConfigured(
                    f"Stream '{adapter.stream}' is registered twice: by "
                    f"{_name(taken.endpoint_class)} and {_name(endpoint_class)}."
                )
            self._adapters[adapter.stream] = adapter
            if adapter.model is not None:
                self._by_model.setdefault(adapter.model, []).append(adapter)
            for field, related_model in adapter.visibility_dependencies():
                entry = (adapter, field)
                self._dependents.setdefault(related_model, []).append(entry)

    def get(self, stream: str) -> ViewAdapter | None:
        """Return the adapter of `stream`, or None."""
        return self._adapters.get(stream)

    def __contains__(self, stream: object) -> bool:
        return stream in self._adapters

    def __iter__(self) -> Iterator[ViewAdapter]:
        return iter(self._adapters.values())

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def for_model(self, model: ModelClass) -> Sequence[ViewAdapter]:
        """Return the adapters whose streams broadcast changes of `model`."""
        return self._by_model.get(model, ())

    def dependents(self, model: ModelClass) -> Sequence[tuple[ViewAdapter, str]]:
        """Return (adapter, field) pairs whose objects' visibility `model` decides."""
        return self._dependents.get(model, ())

    def watches(self, model: ModelClass) -> bool:
        """Tell whether a change of `model` matters to any stream."""
        return model in self._by_model or model in self._dependents

    def runtime(self) -> Runtime:
        """Return the Runtime (publisher and hub) of the running event loop.

        A server process has one loop; tests start a loop per test, and each
        gets fresh state instead of a closed loop's.
        """
        loop = asyncio.get_running_loop()
        runtime = self._runtimes.get(loop)
        if runtime is None:
            runtime = self._runtimes[loop] = Runtime(self)
        return runtime

    def reset(self) -> None:
        """Forget the per-loop state (after a settings change, as Channels does)."""
        self._runtimes = weakref.WeakKeyDictionary()


# The project's registry, imported once from REALTIME_API_REGISTRY; a cache
# that a settings change drops, like Channels' channel layers.
_project_registry: dict[str, Registry] = {}


def get_registry() -> Registry:
    """Return the project's registry (the REALTIME_API_REGISTRY setting)."""
    path = conf.registry_path()
    registry = _project_registry.get(path)
    if registry is None:
        registry = import_string(path)
        if not isinstance(registry, Registry):
            raise ImproperlyConfigured(
                f"REALTIME_API_REGISTRY names {path!r}, which is not a "
                "realtime_api.streams.registry.Registry."
            )
        _project_registry.clear()
        _project_registry[path] = registry
    return registry


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("REALTIME_API_") or setting in ("CHANNEL_LAYERS",):
        for registry in _project_registry.values():
            registry.reset()
        _project_registry.clear()


setting_changed.connect(_reset, dispatch_uid="realtime_api.streams.registry")


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
