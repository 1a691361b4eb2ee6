"""The recorder: calls are answered at once and their events written in shared transactions, each viewer counted
once per eprint and hour; the queue is bounded; the salt is made once and kept in the database; events the
database refuses stay queued and are written once it answers; the writer flushes by itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support.engagement import hour_start, index_eprints, series, submission

from chive_admin.engagement.recorder import EngagementRecorder, Recorded
from chive_admin.store.db import Database
from chive_admin.xrpc.errors import XRPCError

H = 490_000
A, B = submission("a"), submission("b")
MISSING = "at://did:plc:nobody00000000000000000/pub.chive.eprint.submission/x"


async def test_concurrent_calls_are_counted_once_per_viewer(db: Database) -> None:
    await index_eprints(db, A, B)
    recorder = EngagementRecorder(db, clock=lambda: hour_start(H) + timedelta(minutes=5))
    calls = [recorder.record(A.uri, "view", f"did:plc:viewer{n % 50:020d}", None) for n in range(200)]
    calls += [recorder.record(B.uri, "download", None, "192.0.2.1") for _ in range(10)]
    calls.append(recorder.record(MISSING, "view", None, "192.0.2.1"))
    outcomes = await asyncio.gather(*calls)
    assert outcomes[:-1] == [Recorded.ACCEPTED] * 210
    assert outcomes[-1] is Recorded.NOT_FOUND
    await recorder.flush()
    assert (recorder.counted, recorder.repeats) == (51, 159)
    assert await series(db, None, H, H) == [(H, 50, 1)]
    await recorder.stop()


async def test_the_writer_flushes_by_itself(db: Database) -> None:
    await index_eprints(db, A)
    recorder = EngagementRecorder(db, clock=lambda: hour_start(H), flush_seconds=0.01)
    recorder.start()
    await recorder.record(A.uri, "view", None, "192.0.2.1")
    for _ in range(500):
        if recorder.counted:
            break
        await asyncio.sleep(0.01)
    assert await series(db, A.uri, H, H) == [(H, 1, 0)]
    await recorder.stop()


async def test_the_queue_is_bounded(db: Database) -> None:
    await index_eprints(db, A)
    recorder = EngagementRecorder(db, max_pending=2, flush_seconds=60)
    for n in range(2):
        assert await recorder.record(A.uri, "view", None, f"192.0.2.{n}") is Recorded.ACCEPTED
    with pytest.raises(XRPCError) as refused:
        await recorder.record(A.uri, "view", None, "192.0.2.9")
    assert (refused.value.status, refused.value.error) == (503, "NotEnoughResources")
    await recorder.stop()  # writes what waits
    assert recorder.counted == 2


async def test_the_salt_is_kept_so_a_restart_still_dedupes(db: Database) -> None:
    await index_eprints(db, A)
    at = hour_start(H)
    for _ in range(2):
        recorder = EngagementRecorder(db, clock=lambda: at)
        await recorder.record(A.uri, "view", None, "192.0.2.1")
        await recorder.stop()
    assert await series(db, A.uri, H, H) == [(H, 1, 0)]


async def test_events_the_database_refuses_stay_queued(db: Database) -> None:
    await index_eprints(db, A)
    recorder = EngagementRecorder(db, clock=lambda: hour_start(H), flush_seconds=60)
    await recorder.record(A.uri, "view", None, "192.0.2.1")
    async with db.write() as conn:
        await conn.execute("ALTER TABLE engagement_seen RENAME TO engagement_seen_away")
    with pytest.raises(Exception, match="engagement_seen"):
        await recorder.flush()
    async with db.write() as conn:
        await conn.execute("ALTER TABLE engagement_seen_away RENAME TO engagement_seen")
    await recorder.stop()
    assert await series(db, A.uri, H, H) == [(H, 1, 0)]
