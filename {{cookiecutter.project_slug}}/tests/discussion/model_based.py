"""Who sees what under random use: the state machine of test_model_based.py.

Hypothesis drives a small discussion. Users create, edit, move, publish, hide,
give away and delete topics and comments over the socket, over HTTP and
through the ORM, while their sockets subscribe, watch, disconnect and resume
with `since`. Users also gain and lose privileges (staff by `save()` or
`QuerySet.update()`, membership of a moderators group that holds the
`view_private_topics` permission, that group's permission), are deactivated
by `update()`, and their sessions end (deleted, expired, logged out; some
sockets are opened by a ticket, whose minting session it is). After every
step the oracle asks HTTP, with the user as stored now, what each user may
see at that moment and checks what each socket was told:

- every object a socket holds (from its events) is one its user can GET now,
  with the same body; nothing it may see that changed in its subscriptions'
  scope, or that it was told of and still may see, is missing;
- every live query's items equal the HTTP list of its query;
- a `leave` or `delete` names only an object the socket was told of;
- a socket whose credentials ended over HTTP (its user inactive, its
  session or its ticket's session gone) was closed with 4001, and no other.

Identity steps wait PROTOCOL.md's bound (1 s, plus slack for a loaded
machine) before the oracle looks.

A step "settles" once every socket has received a barrier: an edit of a topic
every socket subscribes to, made after the step's own changes were published.

A program is a list of steps drawn from a seed (`program()`); `shrink()`
looks for the shortest part of a failing program that still fails.
"""

import asyncio
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.test import APIClient

from discussion.models import Comment, Topic
from realtime_api.auth.revocation import CLOSE_CODE
from realtime_api.testing import session_store

ACTORS = ("ann", "bob", "cat", "sam", "anonymous")  # sam is staff at first
STAFF = {"sam"}
MODERATORS = "moderators"  # A group that may hold discussion.view_private_topics
# PROTOCOL.md: a change of privileges or credentials applies within 1 s; the
# oracle waits that, plus slack for a loaded machine.
IDENTITY_WAIT = 1.5
TICKET_SOCKETS = {"ann1", "bob1"}  # Opened by a ticket minted with a session.
IDENTITY_STEPS = {
    "set_staff",
    "set_moderator",
    "moderators_may_see",
    "deactivate",
    "end_session",
}
AUTHORS = ("ann", "bob", "cat", "sam")
VIA = ("ws", "http", "orm")
WORDS = ("apple", "pear", "plum", "fig")
STREAMS = ("topics", "comments")
# Kept under the largest page (100), so one list shows everything.
MAX_TOPICS, MAX_COMMENTS = 30, 60
WATCHES = {
    "topics": [{}, {"is_private": False}, {"search": "apple"}, {"ordering": "-id"}],
    "comments": [{}, {"search": "pear"}, {"ordering": "-created"}, "topic"],
}


class OracleError(AssertionError):
    """What a socket was told differs from what HTTP says its user may see."""


@dataclass
class Subscription:
    stream: str
    payload: dict
    matched: set  # pks it matched when (re)subscribed

    def covers(self, pk, db, actor):
        """Tell whether changes of `pk` reach this subscription (its groups)."""
        kind, value = next(iter(self.payload.items()))
        if kind == "topic":
            return db.comment_topic.get(pk) == value
        if kind == "is_private":
            return pk in self.matched or db.topic_public.get(pk, False)
        if kind == "owner":
            mine = db.topic_owner.get(pk) == actor and value == actor
            return pk in self.matched or mine
        return pk in self.matched  # id, ids: the matched objects' own groups


@dataclass
class Watch:
    stream: str
    query: dict
    items: dict = field(default_factory=dict)


@dataclass
class Socket:
    """One client socket, as its client sees the world."""

    name: str
    actor: str
    client: object = None
    key: str | None = None  # The session it (or its ticket) was opened with.
    subscriptions: list = field(default_factory=list)
    copies: dict = field(default_factory=lambda: {s: {} for s in STREAMS})
    told: dict = field(default_factory=lambda: {s: set() for s in STREAMS})
    watches: dict = field(default_factory=dict)
    last_seq: dict = field(default_factory=dict)
    away: dict | None = None  # stream -> pks changed while disconnected
    seen_away: dict | None = None  # stream -> pks its user could see meanwhile
    replaying: dict | None = None  # seen_away, while a resume replays
    resumed: dict | None = None  # stream -> what to expect after a resume

    @property
    def connected(self):
        return self.away is None


class Database:
    """The facts the oracle needs about the rows, read after each step."""

    def __init__(self):
        topics = list(Topic.objects.select_related("owner"))
        self.topic_public = {t.pk: not t.is_private for t in topics}
        self.topic_owner = {t.pk: t.owner.username for t in topics}
        self.comment_topic = dict(Comment.objects.values_list("pk", "topic_id"))


# The steps a program draws, with their weights and how each draws its arguments.
STEPS = {
    "create_topic": (5, lambda r: (r.choice(AUTHORS), r.random() < 0.3, r.choice(VIA))),
    "edit_topic": (
        8,
        lambda r: (r.randrange(999), r.choice(TOPIC_EDITS), r.choice(VIA)),
    ),
    "give_topic_away": (2, lambda r: (r.randrange(999), r.choice(AUTHORS))),
    "delete_topic": (2, lambda r: (r.randrange(999), r.choice(VIA))),
    "create_comment": (
        12,
        lambda r: (r.choice(AUTHORS), r.randrange(999), r.choice(VIA)),
    ),
    "edit_comment": (10, lambda r: (r.randrange(999), r.choice(VIA))),
    "move_comment": (6, lambda r: (r.randrange(999), r.randrange(999), r.choice(VIA))),
    "delete_comment": (4, lambda r: (r.randrange(999), r.choice(VIA))),
    "subscribe": (
        10,
        lambda r: (r.randrange(99), r.choice(SUBSCRIPTIONS), r.randrange(999)),
    ),
    "unsubscribe": (3, lambda r: (r.randrange(99), r.randrange(99))),
    "watch": (6, lambda r: (r.randrange(99), r.choice(STREAMS), r.randrange(99))),
    "unwatch": (2, lambda r: (r.randrange(99), r.randrange(99))),
    "disconnect": (3, lambda r: (r.randrange(99),)),
    "reconnect": (4, lambda r: (r.randrange(99),)),
    "set_staff": (
        3,
        lambda r: (r.choice(AUTHORS), r.random() < 0.5, r.choice(("save", "update"))),
    ),
    "set_moderator": (3, lambda r: (r.choice(AUTHORS), r.random() < 0.5)),
    "moderators_may_see": (1, lambda r: (r.random() < 0.5,)),
    "deactivate": (1, lambda r: (r.choice(AUTHORS),)),
    "end_session": (
        2,
        lambda r: (r.randrange(99), r.choice(("delete", "expire", "logout"))),
    ),
}
TOPIC_EDITS = ("title", "private", "public")
SUBSCRIPTIONS = (
    "comments/topic",
    "comments/id",
    "topics/ids",
    "topics/public",
    "topics/owner",
    "topics/others",
)


def program(seed, length):
    """The steps of a run: (name, arguments), drawn from `seed`."""
    draw = random.Random(seed)
    names = list(STEPS)
    weights = [STEPS[name][0] for name in names]
    steps = []
    for _ in range(length):  # A longer program starts with the shorter one.
        name = draw.choices(names, weights)[0]
        steps.append((name, STEPS[name][1](draw)))
    return steps


class StepFailed(Exception):
    """The oracle failed after step `index` of a program."""

    def __init__(self, index, error):
        super().__init__(f"after step {index}: {error}")
        self.index = index
        self.error = error


async def run(transport, users, steps):
    """Run a program on a fresh discussion; raise StepFailed where it breaks."""
    discussion = Discussion(transport, users)
    await discussion.start()
    try:
        for index, (name, arguments) in enumerate(steps):
            try:
                await getattr(discussion, name)(*arguments)
                await discussion.check()
            except Exception as error:
                raise StepFailed(index, error) from error
    finally:
        await discussion.stop()


async def shrink(transport, users, steps, budget):
    """Return a shortest part of a failing program found within `budget` seconds.

    Drops chunks of steps, halving their size, while the program still fails
    (delta debugging), and cuts it after the step where it fails.
    """
    deadline = time.monotonic() + budget
    chunk = max(1, len(steps) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        start, shrunk = 0, False
        while start < len(steps) and time.monotonic() < deadline:
            candidate = steps[:start] + steps[start + chunk :]
            try:
                await run(transport, users, candidate)
            except StepFailed as failure:
                steps, shrunk = candidate[: failure.index + 1], True
                continue
            start += chunk
        if not shrunk:
            chunk //= 2
    return steps


def as_code(steps):
    """A program as lines to read (or to paste into a test)."""
    return "\n".join(f"    ({name!r}, {arguments!r})," for name, arguments in steps)


class Discussion:
    """A running discussion and its sockets; each step is a method."""

    def __init__(self, transport, users):
        self.transport = transport
        self.users = users
        self.barrier = None
        self.barriers = itertools.count(1)
        self.sockets = []
        self.changed = {s: set() for s in STREAMS}  # pks written by this step
        self.step = 0

    async def start(self):
        await database_sync_to_async(self.reset_rows)()
        for actor, count in {"ann": 2, "bob": 2, "cat": 1, "sam": 1}.items():
            for i in range(count):
                self.sockets.append(Socket(f"{actor}{i}", actor))
        self.sockets.append(Socket("anonymous0", "anonymous"))
        for socket in self.sockets:
            await self.connect(socket)
        await self.settle()

    async def stop(self):
        for socket in self.sockets:
            if socket.connected and socket.client is not None:
                await self.transport.close(socket.client)

    def reset_rows(self):
        self.reset_users()
        Comment.objects.all().delete()
        Topic.objects.all().delete()
        self.barrier = Topic.objects.create(title="barrier 0", owner=self.users["sam"])
        for i, owner in enumerate(("ann", "bob", "cat")):
            topic = Topic.objects.create(
                title=f"{WORDS[i]} topic", owner=self.users[owner], is_private=i == 2
            )
            for author in ("ann", "bob"):
                if author == owner or not topic.is_private:
                    Comment.objects.create(
                        topic=topic, author=self.users[author], text=WORDS[i + 1]
                    )

    def reset_users(self):
        """Every user as at first: active, sam staff, no group; the moderators'
        group holds the permission."""
        for actor, user in self.users.items():
            type(user).objects.filter(pk=user.pk).update(
                is_staff=actor in STAFF, is_active=True
            )
            user.groups.clear()
        moderators, _ = Group.objects.get_or_create(name=MODERATORS)
        moderators.permissions.set(
            [Permission.objects.get(codename="view_private_topics")]
        )

    async def connect(self, socket):
        socket.client, socket.key = await self.transport.open(
            socket.actor, by_ticket=socket.name in TICKET_SOCKETS
        )
        response = await socket.client.request(
            "topics", "subscribe", payload={"ids": [self.barrier.pk]}
        )
        assert response["status"] == 200, response

    # --- Writes ----------------------------------------------------------------

    async def create_topic(self, actor, private, via):
        if await self.count(Topic) < MAX_TOPICS:
            word = WORDS[self.step % len(WORDS)]
            payload = {"title": f"{word} {self.step}", "is_private": private}
            await self.write(actor, via, "topics", "create", None, payload)

    async def edit_topic(self, ref, edit, via):
        topic = await self.pick(Topic, ref)
        if topic is not None:
            payload = {
                "title": {"title": f"{WORDS[ref % 4]} edited {self.step}"},
                "private": {"is_private": True},
                "public": {"is_private": False},
            }[edit]
            owner = topic.owner.username
            await self.write(owner, via, "topics", "update", topic.pk, payload)

    async def give_topic_away(self, ref, new_owner):
        """Only the ORM can change an owner (the API makes it read-only)."""
        topic = await self.pick(Topic, ref)
        if topic is not None:
            topic.owner = self.users[new_owner]
            await database_sync_to_async(topic.save)()
            self.changed["topics"].add(topic.pk)

    async def delete_topic(self, ref, via):
        topic = await self.pick(Topic, ref)
        if topic is not None:
            comments = await database_sync_to_async(
                lambda: set(topic.comments.values_list("pk", flat=True))
            )()
            if await self.write(
                topic.owner.username, via, "topics", "delete", topic.pk
            ):
                self.changed["comments"] |= comments  # Cascade: each sends a delete.

    async def create_comment(self, actor, ref, via):
        topic = await self.pick(Topic, ref, visible_to=actor)
        if topic is not None and await self.count(Comment) < MAX_COMMENTS:
            payload = {"topic": topic.pk, "text": f"{WORDS[ref % 4]} {self.step}"}
            await self.write(actor, via, "comments", "create", None, payload)

    async def edit_comment(self, ref, via):
        comment = await self.pick(Comment, ref)
        if comment is not None:
            payload = {"text": f"{WORDS[(ref + 1) % 4]} edited {self.step}"}
            author = comment.author.username
            await self.write(author, via, "comments", "update", comment.pk, payload)

    async def move_comment(self, ref, to, via):
        comment = await self.pick(Comment, ref)
        if comment is None:
            return
        author = comment.author.username
        topic = await self.pick(Topic, to, visible_to=author)
        if topic is not None:
            payload = {"topic": topic.pk}
            await self.write(author, via, "comments", "update", comment.pk, payload)

    async def delete_comment(self, ref, via):
        comment = await self.pick(Comment, ref)
        if comment is not None:
            author = comment.author.username
            await self.write(author, via, "comments", "delete", comment.pk)

    async def write(self, actor, via, stream, action, pk=None, payload=None):
        """Make one change as `actor`; return whether it was made."""
        socket = next(
            (s for s in self.sockets if s.actor == actor and s.connected), None
        )
        if via == "ws" and socket is not None:
            client = socket.client
            response = await client.request(stream, action, lookup=pk, payload=payload)
            status, data = response["status"], response["data"]
            # The socket publishes its changes before it reads its next frame:
            # after this answer they are out, before the barrier's.
            await client.request("topics", "list", payload={"page_size": 1})
            self.absorb(socket)
        else:
            write = self.orm_write if via == "orm" else self.http_write
            status, data = await database_sync_to_async(write)(
                actor, stream, action, pk, payload
            )
        if status >= 300:
            return False
        self.changed[stream].add(pk if pk is not None else data["id"])
        return True

    def http_write(self, actor, stream, action, pk, payload):
        client = self.http_client(actor)
        path = f"/api/{stream}/" + (f"{pk}/" if pk else "")
        method = {"create": client.post, "update": client.patch}.get(action)
        if method is None:
            response = client.delete(path)
        else:
            response = method(path, payload, format="json")
        return response.status_code, response.json() if response.content else None

    def orm_write(self, actor, stream, action, pk, payload):
        model = Topic if stream == "topics" else Comment
        if action == "delete":
            model.objects.get(pk=pk).delete()
            return 204, None
        values = dict(payload)
        if "topic" in values:
            values["topic"] = Topic.objects.get(pk=values["topic"])
        if action == "create":
            owner = "owner" if model is Topic else "author"
            obj = model.objects.create(**values, **{owner: self.users[actor]})
            return 201, {"id": obj.pk}
        obj = model.objects.get(pk=pk)
        for name, value in values.items():
            setattr(obj, name, value)
        obj.save()
        return 200, {"id": obj.pk}

    # --- Sockets ---------------------------------------------------------------

    async def subscribe(self, which, kind, ref):
        socket = self.socket(which)
        stream, payload = await self.subscription_payload(socket, kind, ref)
        if socket.connected and payload is not None:
            await self.send_subscribe(socket, Subscription(stream, payload, set()))
            # The same filter again replaces the old subscription, whose
            # matches may differ: the client drops what nothing covers now.
            await database_sync_to_async(self.prune)(socket)

    async def subscription_payload(self, socket, kind, ref):
        stream = kind.split("/")[0]
        if kind == "comments/topic":
            topic = await self.pick(Topic, ref)
            return stream, topic and {"topic": topic.pk}
        if kind == "comments/id":
            comment = await self.pick(Comment, ref)
            return stream, comment and {"id": comment.pk}
        if kind == "topics/ids":
            topics = await database_sync_to_async(
                lambda: list(Topic.objects.values_list("pk", flat=True))
            )()
            return stream, {"ids": topics[ref % len(topics) :: 3][:3]}
        if kind == "topics/public":
            return stream, {"is_private": False}
        owner = socket.actor if kind == "topics/owner" else AUTHORS[ref % 4]
        return stream, {"owner": owner}

    async def send_subscribe(self, socket, subscription, since=None):
        """Subscribe, then load what it matches, as a client does; or drop it."""
        extra = {"since": since} if since is not None else {}
        response = await socket.client.request(
            subscription.stream, "subscribe", payload=subscription.payload, **extra
        )
        self.absorb(socket)
        if response["status"] != 200:
            assert response["status"] == 400, response  # A filter it may not use.
            return
        visible = await database_sync_to_async(self.visible)(socket.actor)
        subscription.matched = {
            pk
            for pk in visible[subscription.stream]
            if self.matches(subscription, pk, visible)
        }
        barrier = self.barrier_matches(subscription)
        if response["data"]["matched"] != len(subscription.matched) + barrier:
            raise OracleError(f"{socket.name}: {subscription} matched {response}")
        if since is None:
            copy = socket.copies[subscription.stream]
            for pk in subscription.matched:
                copy[pk] = visible[subscription.stream][pk]
                socket.told[subscription.stream].add(pk)
        else:
            # A resume cannot know what the client held (PROTOCOL.md notes):
            # what the subscription matches now may be named by a later
            # `leave` or `delete`, an object its user came to see while away
            # without it changing (a privilege given meanwhile) included.
            socket.told[subscription.stream] |= subscription.matched
        # The same filter twice is one subscription (one unsubscribe ends it).
        socket.subscriptions = [
            s
            for s in socket.subscriptions
            if (s.stream, s.payload) != (subscription.stream, subscription.payload)
        ]
        socket.subscriptions.append(subscription)

    def barrier_matches(self, subscription):
        """The barrier (a public topic of sam's) is in no list the oracle reads."""
        payload = subscription.payload
        return subscription.stream == "topics" and (
            self.barrier.pk in payload.get("ids", ())
            or payload.get("is_private") is False
            or payload.get("owner") == "sam"
        )

    @staticmethod
    def matches(subscription, pk, visible):
        kind, value = next(iter(subscription.payload.items()))
        body = visible[subscription.stream][pk]
        if kind == "topic":
            return body["topic"] == value
        if kind == "id":
            return pk == value
        if kind == "ids":
            return pk in value
        if kind == "is_private":
            return body["is_private"] == value
        return body["owner"] == value

    async def unsubscribe(self, which, index):
        socket = self.socket(which)
        if socket.connected and socket.subscriptions:
            subscription = socket.subscriptions.pop(index % len(socket.subscriptions))
            response = await socket.client.request(
                subscription.stream, "unsubscribe", payload=subscription.payload
            )
            self.absorb(socket)
            # 400 when the filter became invalid for the user: gone either way.
            assert response["status"] in (200, 400), response
            await database_sync_to_async(self.prune)(socket)

    async def watch(self, which, stream, index):
        socket = self.socket(which)
        query = WATCHES[stream][index % len(WATCHES[stream])]
        if query == "topic":
            topic = await self.pick(Topic, index, visible_to=socket.actor)
            query = {"topic": topic.pk} if topic else {}
        if socket.connected and len(socket.watches) < 3:
            await self.send_watch(socket, Watch(stream, query))

    async def send_watch(self, socket, watch):
        response = await socket.client.request(
            watch.stream, "watch", payload={**watch.query, "page_size": 100}
        )
        self.absorb(socket)
        if response["status"] != 200:
            # Watched again after a reconnect, a topic that turned private.
            assert response["status"] == 400, response
            return
        results = response["data"]["results"]
        watch.items = self.without_barrier(watch.stream, results)
        socket.watches[response["watch"]] = watch

    async def unwatch(self, which, index):
        socket = self.socket(which)
        if socket.connected and socket.watches:
            watch_id = sorted(socket.watches)[index % len(socket.watches)]
            stream = socket.watches.pop(watch_id).stream
            response = await socket.client.request(
                stream, "unwatch", payload={"watch": watch_id}
            )
            assert response["status"] == 200, response
            self.absorb(socket)

    async def disconnect(self, which):
        socket = self.socket(which)
        if socket.connected:
            await self.transport.close(socket.client)
            socket.away = {s: set() for s in STREAMS}
            socket.seen_away = {s: set() for s in STREAMS}

    async def reconnect(self, which):
        """Connect again; resume each subscription with `since`; watch afresh."""
        socket = self.socket(which)
        if socket.connected:
            return
        before = {s: set(c) for s, c in socket.copies.items()}
        last_seq = dict(socket.last_seq)
        away, socket.away = socket.away, None
        # A replay may name an object the client was never told of, if its
        # user could see it while the client was away (PROTOCOL.md notes).
        socket.replaying = socket.seen_away
        await self.connect(socket)
        subscriptions, socket.subscriptions = socket.subscriptions, []
        # Every subscription of a stream resumes from what was heard before the
        # reconnect: the first one's replay must not move the next one's since.
        for stream in STREAMS:
            if stream not in last_seq:  # Nothing heard: load it afresh.
                socket.copies[stream].clear()
        for subscription in subscriptions:
            since = last_seq.get(subscription.stream)
            await self.send_subscribe(socket, subscription, since)
        watches, socket.watches = list(socket.watches.values()), {}
        for watch in watches:
            await self.send_watch(socket, Watch(watch.stream, watch.query))
        await self.settle()
        socket.replaying = None
        # What the resumed subscriptions no longer cover (an id the user may
        # not see any more matches nothing) gets no event: the client drops
        # it. The oracle then expects the rest of what it held, and whatever
        # changed while it was away, as its user may see them now.
        await database_sync_to_async(self.prune)(socket)
        socket.resumed = {s: before[s] | away[s] for s in STREAMS}

    # --- Privileges and credentials ------------------------------------------

    async def set_staff(self, actor, on, how):
        def change():
            model = type(self.users[actor])
            if how == "update":
                model.objects.filter(username=actor).update(is_staff=on)
            else:
                user = model.objects.get(username=actor)
                user.is_staff = on
                user.save()

        await database_sync_to_async(change)()
        await asyncio.sleep(IDENTITY_WAIT)

    async def set_moderator(self, actor, on):
        def change():
            group = Group.objects.get(name=MODERATORS)
            if on:
                self.users[actor].groups.add(group)
            else:
                self.users[actor].groups.remove(group)

        await database_sync_to_async(change)()
        await asyncio.sleep(IDENTITY_WAIT)

    async def moderators_may_see(self, on):
        def change():
            group = Group.objects.get(name=MODERATORS)
            permission = Permission.objects.get(codename="view_private_topics")
            if on:
                group.permissions.add(permission)
            else:
                group.permissions.remove(permission)

        await database_sync_to_async(change)()
        await asyncio.sleep(IDENTITY_WAIT)

    async def deactivate(self, actor):
        """An admin action: update(is_active=False); every socket of the user
        closes 4001. The user is then active again (new sockets may log in)."""
        model = type(self.users[actor])
        rows = model.objects.filter(username=actor)
        await database_sync_to_async(rows.update)(is_active=False)
        for socket in self.sockets:
            if socket.actor == actor and socket.connected:
                await self.wait_closed(socket)
        await database_sync_to_async(rows.update)(is_active=True)

    async def end_session(self, which, how):
        """A socket's session (a ticket socket's: its minting one) ends."""
        socket = self.socket(which)
        if not socket.connected or socket.key is None:
            return

        def end():
            sessions = Session.objects.filter(session_key=socket.key)
            if how == "delete":
                sessions.delete()
            elif how == "expire":
                sessions.update(expire_date=timezone.now() - timedelta(seconds=1))
            else:  # What the logout view does.
                request = HttpRequest()
                request.session = session_store(socket.key)
                request.COOKIES[settings.SESSION_COOKIE_NAME] = socket.key
                request.user = self.user(socket.actor)
                auth.logout(request)

        await database_sync_to_async(end)()
        await self.wait_closed(socket)

    async def wait_closed(self, socket):
        """The server closes the socket with 4001 within the bound."""
        self.absorb(socket)
        try:
            async with asyncio.timeout(IDENTITY_WAIT + 1.5):
                while True:
                    kind, value = await self.transport.next(socket.client)
                    if kind == "close":
                        break
                    self.on_frame(socket, json.loads(value))
        except TimeoutError:
            raise OracleError(
                f"{socket.name} ({socket.actor}) was not closed: its credentials "
                "ended over HTTP"
            ) from None
        if value != CLOSE_CODE:
            raise OracleError(f"{socket.name} was closed with {value}, not 4001")
        await self.transport.close(socket.client)
        socket.away = {s: set() for s in STREAMS}
        socket.seen_away = {s: set() for s in STREAMS}

    # --- Settling and the oracle ---------------------------------------------

    async def check(self):
        self.step += 1
        await self.settle()
        db, visible, lists = await database_sync_to_async(self.read_http)()
        for socket in self.sockets:
            if not socket.connected:
                for stream in STREAMS:
                    socket.away[stream] |= self.changed[stream]
                    socket.seen_away[stream] |= set(visible[socket.actor][stream])
                continue
            resumed, socket.resumed = socket.resumed or {}, None
            for stream in STREAMS:
                changed = self.changed[stream] | resumed.get(stream, set())
                seen = visible[socket.actor][stream]
                self.check_copy(socket, stream, seen, db, changed)
            for watch in socket.watches.values():
                expected = lists[socket.actor, watch.stream, json.dumps(watch.query)]
                if watch.items != expected:
                    raise OracleError(
                        f"{socket.name}'s watch {watch.stream} {watch.query}: "
                        f"{sorted(watch.items)} != HTTP {sorted(expected)}"
                    )
        self.changed = {s: set() for s in STREAMS}

    def read_http(self):
        """The rows, and what HTTP shows each user: their lists and watches."""
        visible = {actor: self.visible(actor) for actor in ACTORS}
        lists = {}
        for socket in self.sockets:
            for watch in socket.watches.values():
                key = (socket.actor, watch.stream, json.dumps(watch.query))
                if key not in lists:
                    lists[key] = self.http_list(socket.actor, watch)
        return Database(), visible, lists

    def check_copy(self, socket, stream, visible, db, changed):
        copy = socket.copies[stream]
        expected = {
            pk
            for pk in set(copy) | changed
            if pk in visible and self.covered(socket, stream, pk, db)
        }
        if set(copy) != expected:
            raise OracleError(
                f"{socket.name} ({socket.actor}) holds {stream} {sorted(copy)}; "
                f"it may see and was told of {sorted(expected)}"
            )
        for pk in expected:
            if copy[pk] != visible[pk]:
                raise OracleError(
                    f"{socket.name} ({socket.actor}) holds {stream} {pk} as "
                    f"{copy[pk]}; HTTP says {visible[pk]}"
                )

    def covered(self, socket, stream, pk, db):
        return any(
            s.stream == stream and s.covers(pk, db, socket.actor)
            for s in socket.subscriptions
        )

    def prune(self, socket):
        """The client drops what no subscription of its covers any more."""
        db = Database()
        for stream in STREAMS:
            copy = socket.copies[stream]
            for pk in list(copy):
                if not self.covered(socket, stream, pk, db):
                    del copy[pk]

    async def settle(self):
        """Edit the barrier topic; wait until every connected socket heard it."""
        title = f"barrier {next(self.barriers)}"

        def edit():
            self.barrier.title = title
            self.barrier.save()

        await database_sync_to_async(edit)()
        for socket in self.sockets:
            if socket.connected:
                await self.read_until(socket, title)

    async def read_until(self, socket, title):
        self.absorb(socket)
        async with asyncio.timeout(self.transport.timeout):
            while True:
                frame = json.loads(await socket.client.receive_text(None))
                if self.on_frame(socket, frame) == title:
                    return

    def absorb(self, socket):
        """Take the events a request() kept aside while it awaited its answer."""
        events, socket.client.events = socket.client.events, []
        for event in events:
            self.on_frame(socket, event)

    def on_frame(self, socket, frame):
        """Apply one event to the socket's client state; a barrier's title."""
        if frame.get("type") != "event":
            return None
        stream, action, data = frame["stream"], frame["action"], frame["data"]
        if "seq" in frame and "watch" not in frame:
            previous = socket.last_seq.get(stream, 0)
            socket.last_seq[stream] = max(previous, frame["seq"])
        if stream == "topics" and data.get("id") == self.barrier.pk:
            return data.get("title")
        if "watch" in frame:
            watch = socket.watches.get(frame["watch"])
            if watch is None:
                raise OracleError(f"{socket.name}: event of no watch {frame}")
            if action == "leave":
                watch.items.pop(data["id"], None)
            else:
                watch.items[data["id"]] = data
            return None
        copy = socket.copies[stream]
        if action in ("create", "update"):
            copy[data["id"]] = data
            socket.told[stream].add(data["id"])
        elif data["id"] not in socket.told[stream] and not (
            socket.replaying and data["id"] in socket.replaying[stream]
        ):
            raise OracleError(f"{socket.name} got {action} of an untold {frame}")
        else:
            copy.pop(data["id"], None)
        return None

    # --- HTTP, as each user sees it --------------------------------------------

    def visible(self, actor):
        return {stream: self.http_list(actor, Watch(stream, {})) for stream in STREAMS}

    def http_list(self, actor, watch):
        client = self.http_client(actor)
        response = client.get(
            f"/api/{watch.stream}/", {**watch.query, "page_size": 100}
        )
        if response.status_code == 400:  # A filter on a topic it may not see.
            return {}
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["next"] is None, "more than one page: raise the page size"
        return self.without_barrier(watch.stream, body["results"])

    def without_barrier(self, stream, items):
        """{pk: item} of a list, without the barrier topic (no step touches it)."""
        barrier = self.barrier.pk if stream == "topics" else None
        return {item["id"]: item for item in items if item["id"] != barrier}

    def http_client(self, actor):
        """HTTP as the user is stored now (its privileges may have changed)."""
        client = APIClient()
        if actor != "anonymous":
            client.force_authenticate(self.user(actor))
        return client

    def user(self, actor):
        if actor == "anonymous":
            return None
        return type(self.users[actor]).objects.get(username=actor)

    # --- Helpers ---------------------------------------------------------------

    async def count(self, model):
        return await database_sync_to_async(model.objects.count)()

    async def pick(self, model, ref, visible_to=None):
        """The ref-th object (modulo), among those `visible_to` may see."""

        def choose():
            objects = (
                model.objects.exclude(pk=self.barrier.pk)
                if model is Topic
                else (model.objects.all())
            )
            if visible_to is not None:
                objects = objects.visible_to(self.user(visible_to))
            objects = list(objects.select_related(*self.related(model)).order_by("pk"))
            return objects[ref % len(objects)] if objects else None

        return await database_sync_to_async(choose)()

    @staticmethod
    def related(model):
        return ["owner"] if model is Topic else ["author", "topic"]

    def socket(self, which):
        return self.sockets[which % len(self.sockets)]
