"""Send events to subscribers after the writing transaction commits.

Each change is serialized and rendered to its event frame once, then sent
with one `group_send` per group: never once per subscriber.
"""

import asyncio
import concurrent.futures
import contextvars
import logging
import uuid
from collections import defaultdict

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import router, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from . import conf
from .eventlog import get_event_log
from .protocol import dumps, event_frame

logger = logging.getLogger(__name__)

# Model -> the endpoint classes that broadcast its changes. Filled by
# APIDemultiplexer.register(); read by the signal receivers and broadcast().
_endpoints_by_model = defaultdict(list)


def register_endpoint(endpoint_cls):
    """Broadcast the changes of the endpoint's model from now on."""
    model = endpoint_cls.get_model()
    if model is None:
        return
    if endpoint_cls not in _endpoints_by_model[model]:
        _endpoints_by_model[model].append(endpoint_cls)
    uid = f"realtime_api:{model._meta.label}"
    post_save.connect(_on_save, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(_on_delete, sender=model, weak=False, dispatch_uid=uid)


def broadcast(objects, action="update"):
    """Send `action` events for objects changed without signals.

    `QuerySet.update()` and bulk operations send no signals, so call this
    after them. Events go out after the current transaction commits::

        Comment.objects.filter(topic=topic).update(text="[removed]")
        broadcast(Comment.objects.filter(topic=topic))
    """
    if isinstance(objects, Model):
        objects = [objects]
    for obj in objects:
        for endpoint_cls in _endpoints_by_model.get(type(obj), ()):
            _schedule(endpoint_cls, obj, action, router.db_for_write(type(obj)))


def _on_save(sender, instance, created, raw=False, using=None, **kwargs):
    if raw:  # loaddata: the fixture's objects are not live changes.
        return
    for endpoint_cls in _endpoints_by_model.get(sender, ()):
        if endpoint_cls.immediate_broadcast:
            _schedule(endpoint_cls, instance, "create" if created else "update", using)


def _on_delete(sender, instance, using=None, **kwargs):
    for endpoint_cls in _endpoints_by_model.get(sender, ()):
        if endpoint_cls.immediate_broadcast:
            _schedule(endpoint_cls, instance, "delete", using)


def _schedule(endpoint_cls, instance, action, using):
    endpoint = endpoint_cls(scope={"headers": [(b"host", _host())]})
    if action == "delete":
        # After the delete the object has no pk: read what the event needs now.
        data_json = dumps(endpoint.get_deleted_data(instance))
        groups = endpoint.get_group_names(instance)

        def render():
            return data_json, groups
    else:

        def render():
            # At commit time, so the event shows the state that was committed.
            return endpoint.serialize(instance), endpoint.get_group_names(instance)

    pk = instance.pk  # Gone after a delete.
    transaction.on_commit(lambda: _send(endpoint, action, render, pk), using=using)


def _host():
    return conf.broadcast_host().encode()


def _send(endpoint, action, render, pk):
    try:
        data_json, groups = render()
        args = (endpoint.stream, action, data_json, groups, pk)
        loop = _serving_loop()
        if loop is not None:
            # Hand the event to the loop and return: waiting for it here held
            # the database thread, and so the next request, for about 30% of a
            # WebSocket create (py-spy, realtime_bench W1).
            done = concurrent.futures.Future()
            loop.call_soon_threadsafe(_publish_soon, args, done)
            waiting = published.get()
            if waiting is not None:
                waiting.append(done)
            return
        async_to_sync(publish)(*args)
    except Exception:
        # The write has committed: a broken serializer or channel layer must
        # not fail it. The event is lost, and the log says so.
        logger.exception("Event not delivered: %s %s", endpoint.stream, action)


def _serving_loop():
    """The running event loop whose sync_to_async worker this thread is, if any.

    A shell, a management command or a WSGI view has none: they wait for the
    events to be sent, as before.
    """
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


# A socket's request collects here the events it caused, and waits for them
# before it reads its next frame: a socket's changes reach subscribers (itself
# included) in the order it made them (realtime_api/demultiplexer.py).
published = contextvars.ContextVar("realtime_api_published", default=None)

# One queue of events per process, published in commit order (so in `seq`
# order per stream) while the database thread goes on.
_in_order = None
_pending = set()


def _publish_soon(args, done):
    """On the loop: publish after the events handed over before this one."""
    global _in_order
    loop = asyncio.get_running_loop()
    if _in_order is None or _in_order[0] is not loop:
        _in_order = (loop, asyncio.Lock())
    task = loop.create_task(_publish_in_order(_in_order[1], args))
    _pending.add(task)  # The loop keeps weak references to tasks only.
    task.add_done_callback(_pending.discard)
    task.add_done_callback(lambda _: done.set_result(None))


async def _publish_in_order(lock, args):
    async with lock:  # asyncio.Lock wakes its waiters first come, first served.
        try:
            await publish(*args)
        except Exception:
            logger.exception("Event not delivered: %s %s", args[0], args[1])


async def publish(stream, action, data_json, groups, pk):
    """Log an event under the stream's next seq and send it to its groups.

    Sockets subscribed to the groups get the rendered frame; each process's
    watch hub gets the change, to evaluate its live queries.
    """
    event_id = uuid.uuid4().hex
    seq = await get_event_log().append(stream, event_id, groups, action, data_json)
    message = {
        "type": "realtime.event",
        # Each process gets it once per group it joined: the id tells copies
        # apart, the groups say which of its sockets want it.
        "id": event_id,
        "groups": list(groups),
        "text": event_frame(stream, action, data_json, seq),
    }
    change = {
        "type": "realtime.change",
        "id": event_id,
        "stream": stream,
        "action": action,
        "seq": seq,
        "pk": pk if isinstance(pk, int) else str(pk),
        "data": data_json,
    }
    layer = get_channel_layer()
    await asyncio.gather(
        send_to_groups(groups, message), layer.group_send(watch_group(stream), change)
    )


def watch_group(stream):
    """The group of every process's watch hub for `stream`."""
    return f"{stream}-watchers"


async def send_to_groups(groups, message):
    """Send one message to several groups of the channel layer at once."""
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))
