"""Several subscriptions of one stream resumed one by one (`since` on each).

Found by the model-based test (seed 2): the first resume's replay told the
client `leave` for an object only a later subscription covers, and the
later replay then dropped that change's `update` as a duplicate of the
`leave`: the client lost an object it may see.
"""

import pytest

from realtime_api.testing import events_until_quiet, subscribe

from .helpers import communicator, save
from .testapp.models import Folder, Note

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_object_moved_between_two_resumed_subscriptions_is_kept(user):
    first = await Folder.objects.acreate(name="first", owner=user)
    second = await Folder.objects.acreate(name="second", owner=user)
    note = await Note.objects.acreate(folder=first, author=user, text="moving")
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": first.pk})
        await subscribe(ws, "notes", {"folder": second.pk})
        await save(note, text="seen")
        since = (await ws.receive_event())["seq"]
    await save(note, folder=second)  # While the client is away.
    async with communicator(user) as ws:
        await subscribe(ws, "notes", {"folder": first.pk}, since=since)
        await subscribe(ws, "notes", {"folder": second.pk}, since=since)
        events = await events_until_quiet(ws)
    about_it = [(e["action"], e["data"]["id"]) for e in events]
    # Whatever came first, the last word on the note is that it is there.
    assert about_it and about_it[-1] == ("update", note.pk), about_it
