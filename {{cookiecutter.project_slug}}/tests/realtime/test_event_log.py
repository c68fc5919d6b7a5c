"""The in-process event log is bounded in events and in bytes (memory)."""

import gc
import json
import tracemalloc

from realtime_api.delivery.changes import Change
from realtime_api.delivery.eventlog import MemoryEventLog


def deleted(pk, padding=0):
    """A delete: the only kind of change that carries data in the log."""
    data = json.dumps({"id": pk, "slug": "s" * padding})
    return Change("notes", "delete", pk, (f"notes-{pk}", "notes-folder-1"), (), data)


async def test_the_log_keeps_its_bytes_under_the_setting(settings):
    """Large deletes push the oldest events out; `since` before them is too old."""
    settings.REALTIME_API_EVENT_LOG_BYTES = 50_000
    log = MemoryEventLog()
    for pk in range(1, 101):
        await log.append(deleted(pk, padding=4_000))
    assert log.held_bytes("notes") <= 50_000
    replay = await log.replay("notes", 100 - 5, {"notes-folder-1"})
    assert [c.seq for c in replay.changes] == [96, 97, 98, 99, 100]
    assert (await log.replay("notes", 50, {"notes-folder-1"})).too_old


async def test_the_estimate_is_what_the_log_holds_in_memory(settings):
    """tracemalloc: the log's memory stays within 1.5x of the bytes setting."""
    settings.REALTIME_API_EVENT_LOG_BYTES = 500_000
    settings.REALTIME_API_EVENT_LOG_SIZE = 1_000_000
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = MemoryEventLog()
        # Made here and held by nothing else, as the publisher's changes are.
        # More than the bytes setting holds: the log must drop the oldest.
        for pk in range(1, 5_001):
            await log.append(deleted(pk, padding=100))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert log.held_bytes("notes") <= 500_000
    assert (await log.replay("notes", 1, {"notes-folder-1"})).too_old
    assert 0.5 * 500_000 < held < 1.5 * 500_000, held


async def test_the_log_keeps_at_most_its_count(settings):
    """REALTIME_API_EVENT_LOG_SIZE still bounds the number of events."""
    settings.REALTIME_API_EVENT_LOG_SIZE = 3
    log = MemoryEventLog()
    for pk in range(1, 6):
        await log.append(deleted(pk))
    assert (await log.replay("notes", 2, {"notes-folder-1"})).too_old is False
    assert (await log.replay("notes", 1, {"notes-folder-1"})).too_old
