"""From model signals to changes, published after the writing transaction commits.

Every model the registry serves (or whose fields decide another stream's
visibility) keeps the state it was loaded with, so that a save can tell the
groups the object leaves (a comment moved to another topic) and whether a
field that decides visibility changed (a topic made private).
"""

import logging
from typing import Any

from django.db import router, transaction
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_init, post_save

from realtime_api.delivery import publisher
from realtime_api.delivery.changes import Change, pk_value
from realtime_api.from_sync import call_async
from realtime_api.ops import metrics
from realtime_api.streams.registry import get_registry

logger = logging.getLogger(__name__)

# Where an instance keeps the field values it was loaded (or last saved) with.
LOADED = "_realtime_loaded"


def broadcast(objects, action="update"):
    """Send `action` events for objects changed without signals.

    `QuerySet.update()` and bulk operations send no signals, so call this
    after them. Events go out after the current transaction commits::

        Comment.objects.filter(topic=topic).update(text="[removed]")
        broadcast(Comment.objects.filter(topic=topic))
    """
    if isinstance(objects, Model):
        objects = [objects]
    registry = get_registry()
    for obj in objects:
        model = type(obj)
        using = router.db_for_write(model)
        for adapter in registry.for_model(model):
            _schedule(object_change(adapter, obj, action), using)


def object_change(adapter, instance, action):
    """Return the Change that `action` on `instance` is for `adapter`'s stream."""
    endpoint = adapter.endpoint_class(adapter)
    groups = tuple(endpoint.get_group_names(instance))
    old_groups = ()
    if action != "create":
        loaded = loaded_copy(instance)
        old_groups = groups if loaded is None else endpoint.get_group_names(loaded)
    return Change(
        stream=adapter.stream,
        action=action,
        pk=pk_value(instance.pk),
        groups=groups,
        old_groups=tuple(old_groups),
        deleted_json=endpoint.render_deleted(instance) if action == "delete" else None,
    )


# A recheck names the groups of the objects it concerns, read when it is made,
# unless they are more than this many: then it concerns every subscriber
# (and its entry in the event log stays small).
RECHECK_GROUPS_OBJECTS = 100


def recheck_changes(registry, instance):
    """Yield a `recheck` per stream whose visibility this change may decide."""
    loaded = getattr(instance, LOADED, None)
    for adapter, field_name in registry.dependents(type(instance)):
        fields = adapter.endpoint_class.visibility_depends_on[field_name]
        attnames = [instance._meta.get_field(name).attname for name in fields]
        if loaded is None or any(
            loaded.get(name) != getattr(instance, name) for name in attnames
        ):
            lookups = {field_name: pk_value(instance.pk)}
            yield Change(
                stream=adapter.stream,
                action="recheck",
                filter=lookups,
                groups=recheck_groups(adapter, lookups),
            )


def recheck_groups(adapter, lookups):
    """The groups of the objects a recheck concerns (() when too many to read).

    A `since` replay and the hub then look at a recheck only for the
    subscriptions in one of them: a topic made private and public again a
    thousand times costs nothing to the subscribers of other topics.
    """
    endpoint = adapter.endpoint_class(adapter)
    objects = adapter.model._default_manager.filter(**lookups).order_by()
    objects = list(objects[: RECHECK_GROUPS_OBJECTS + 1])
    if len(objects) > RECHECK_GROUPS_OBJECTS:
        return ()
    groups = {group for obj in objects for group in endpoint.get_group_names(obj)}
    return tuple(sorted(groups)) or (f"{adapter.stream}-recheck-nothing",)


def loaded_copy(instance):
    """Return a copy of `instance` as it was loaded, or None if unknown."""
    loaded = getattr(instance, LOADED, None)
    if loaded is None:
        return None
    cls: Any = type(instance)
    old = cls.__new__(cls)
    old.__dict__.update(instance.__dict__, **loaded)
    # Related objects cached on the instance are the new ones: read them anew.
    old._state = ModelState()
    old._state.db, old._state.adding = instance._state.db, False
    return old


def remember_loaded(instance):
    opts = instance._meta
    state = instance.__dict__
    setattr(
        instance,
        LOADED,
        {
            f.attname: state[f.attname]
            for f in opts.concrete_fields
            if f.attname in state
        },
    )


def _schedule(change, using):
    transaction.on_commit(lambda: publish_after_commit(change), using=using)


def publish_after_commit(change):
    """Run by `transaction.on_commit`: publish `change`.

    In a socket's request, hand it to the socket's publisher and return.
    Elsewhere (an HTTP view, the admin, a shell) wait until it is sent.
    """
    try:
        if not publisher.hand_over(change):
            call_async(_publish_now, change)
    except Exception:
        logger.exception("Event not delivered: %s %s", change.stream, change.action)
        metrics.events_dropped([change.stream], "publish")


async def _publish_now(change):
    await get_registry().runtime().publisher.publish_in_turn(change)


def _on_init(sender, instance, **kwargs):
    if get_registry().watches(sender):
        remember_loaded(instance)


def _on_save(sender, instance, created, raw=False, using=None, **kwargs):
    if raw:  # loaddata: the fixture's objects are not live changes.
        return
    registry = get_registry()
    if not registry.watches(sender):
        return
    action = "create" if created else "update"
    for adapter in registry.for_model(sender):
        if adapter.endpoint_class.immediate_broadcast:
            _schedule(object_change(adapter, instance, action), using)
    if not created:
        for change in recheck_changes(registry, instance):
            _schedule(change, using)
    remember_loaded(instance)


def _on_delete(sender, instance, using=None, **kwargs):
    for adapter in get_registry().for_model(sender):
        if adapter.endpoint_class.immediate_broadcast:
            _schedule(object_change(adapter, instance, "delete"), using)


def connect():
    """Connect the receivers for every model; each asks the registry if it matters."""
    uid = "realtime_api.delivery.broadcast"
    post_init.connect(_on_init, dispatch_uid=uid)
    post_save.connect(_on_save, dispatch_uid=uid)
    post_delete.connect(_on_delete, dispatch_uid=uid)
