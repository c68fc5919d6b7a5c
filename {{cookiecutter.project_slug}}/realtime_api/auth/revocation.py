"""Close a user's sockets when their identity changes (PROTOCOL.md, 4001).

Every socket joins a group for its user, and one for its browser session or
for the API token it was opened with (a ticket socket: the session's or
token's that minted the ticket); the signals below send a close message to
the groups a change affects, through the channel layer, so sockets served by
any process are reached at once. What no signal tells (a `QuerySet.update()`,
a session expiring, a change of groups or permissions) identity.py's sweep
finds within a second.
"""

import asyncio
import hashlib
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.db import router, transaction
from django.db.models.signals import post_delete, post_init, post_save

from realtime_api.auth import identity
from realtime_api.from_sync import call_async

logger = logging.getLogger(__name__)

CLOSE_CODE = 4001


def user_group(user_pk):
    return f"realtime-user-{user_pk}"


def browser_group(kind, cookie_value):
    """A group for one browser, named by a hash of its session/CSRF cookie."""
    digest = hashlib.sha256(cookie_value.encode()).hexdigest()[:40]
    return f"realtime-{kind}-{digest}"


def browser_groups(cookies):
    """Groups of a browser's sockets, from the cookies it sent."""
    groups = []
    for kind, name in (
        ("session", settings.SESSION_COOKIE_NAME),
        ("csrf", settings.CSRF_COOKIE_NAME),
    ):
        if cookies.get(name):
            groups.append(browser_group(kind, cookies[name]))
    return groups


def token_model():
    """DRF's Token model, when the project uses rest_framework.authtoken."""
    if not apps.is_installed("rest_framework.authtoken"):
        return None
    from rest_framework.authtoken.models import Token

    return Token


def token_group(auth):
    """The group of the sockets opened with a DRF Token (None for anything else)."""
    model = token_model()
    if model is None or not isinstance(auth, model):
        return None
    return token_key_group(auth.key)


def token_key_group(key):
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"realtime-token-{digest}"


def identity_groups(scope):
    """The groups a socket joins: its user's, and its session's or token's."""
    credentials = scope.get("realtime_credentials")
    minted_by = getattr(credentials, "minted_by", None)
    if credentials is None:  # The session cookie.
        groups = browser_groups(scope.get("cookies", {}))
    elif minted_by is not None:  # A ticket: what minted it.
        kind, key = minted_by
        if kind == "session":
            groups = [browser_group("session", key)]
        else:
            groups = [token_key_group(key)]
    else:
        groups = [token_group(credentials.auth)]
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        groups.append(user_group(user.pk))
    return [group for group in groups if group is not None]


class GroupUserConsumer(AsyncWebsocketConsumer):
    """A consumer closed with code 4001 when its user, session or token changes."""

    async def connect(self):
        self.identity_groups = identity_groups(self.scope)
        try:
            for group in self.identity_groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:
            # The socket still serves requests; it cannot be closed on a
            # session change until it reconnects with the layer back.
            logger.exception("Channel layer unreachable: identity groups not joined")
        await self.accept()
        await identity.watch(self)  # The user as stored now; 4001 when it ends.

    async def disconnect(self, code):
        identity.forget(self)
        await discard_groups(self, getattr(self, "identity_groups", ()))

    async def realtime_close(self, message):
        await self.close(code=message.get("code", CLOSE_CODE))


async def discard_groups(consumer, groups):
    """Leave groups on disconnect; an unreachable layer forgets them anyway."""
    try:
        for group in groups:
            await consumer.channel_layer.group_discard(group, consumer.channel_name)
    except Exception:
        logger.warning("Channel layer unreachable: groups not left", exc_info=True)


def close_sockets(groups, using=None):
    """Close every socket in `groups`, in every process, after commit."""

    def send():
        try:
            call_async(_send_close, groups)
        except Exception:
            logger.exception("Could not close the sockets of %s", groups)

    if groups:
        transaction.on_commit(send, using=using)


async def _send_close(groups):
    layer = get_channel_layer()
    message = {"type": "realtime.close", "code": CLOSE_CODE}
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


def close_user_sockets(user):
    """Close every socket of `user`, in every session and process."""
    close_sockets([user_group(user.pk)], router.db_for_write(type(user)))


def _on_login(sender, request, user, **kwargs):
    # The cookies the browser sent are those of its anonymous session: Django
    # has already cycled the session key, and the sockets still carry the old.
    close_sockets(browser_groups(getattr(request, "COOKIES", {})))


def _on_logout(sender, request, user, **kwargs):
    if user is None:  # Logging out nobody changes nobody's sockets.
        return
    cookies = getattr(request, "COOKIES", {})
    session_cookie = cookies.get(settings.SESSION_COOKIE_NAME)
    if session_cookie:
        close_sockets([browser_group("session", session_cookie)])


def _identity(user):
    return (user.password, getattr(user, "is_active", True))


def _remember_identity(sender, instance, **kwargs):
    instance._realtime_identity = _identity(instance)


def _on_user_save(sender, instance, created, raw=False, using=None, **kwargs):
    before = getattr(instance, "_realtime_identity", None)
    now = _identity(instance)
    # Only a new password or a deactivation counts: saving last_login (on
    # every login) or any other field closes nothing.
    if not created and not raw and before is not None:
        password_changed = before[0] != now[0]
        deactivated = before[1] and not now[1]
        if password_changed or deactivated:
            close_sockets([user_group(instance.pk)], using)
    instance._realtime_identity = now


def _on_user_delete(sender, instance, using=None, **kwargs):
    close_sockets([user_group(instance.pk)], using)


def _on_token_delete(sender, instance, using=None, **kwargs):
    close_sockets([token_group(instance)], using)


def connect_signals():
    user_model = get_user_model()
    uid = "realtime_api.auth.revocation"
    user_logged_in.connect(_on_login, dispatch_uid=uid)
    user_logged_out.connect(_on_logout, dispatch_uid=uid)
    post_init.connect(_remember_identity, sender=user_model, dispatch_uid=uid)
    post_save.connect(_on_user_save, sender=user_model, dispatch_uid=uid)
    post_delete.connect(_on_user_delete, sender=user_model, dispatch_uid=uid)
    token = token_model()
    if token is not None:
        # The admin deletes tokens through a proxy model, which is the sender.
        for model in apps.get_models():
            if issubclass(model, token):
                post_delete.connect(_on_token_delete, sender=model, dispatch_uid=uid)
