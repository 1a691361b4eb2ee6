"""Operation rows: every transition conditional, lost races visible, illegal moves refused."""

from __future__ import annotations

import asyncio

import pytest
from support.databases import INTEGRITY_ERRORS

from chive_admin.store import operations as ops
from chive_admin.store.db import Database

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:01:00.000000Z"
LEASE = "2026-01-01T00:10:00.000000Z"


async def queue(
    db: Database, op_id: str, params: dict[str, object] | None = None, *, max_queued: int = 1000
) -> tuple[ops.Operation, bool]:
    async with db.write() as conn:
        return await ops.insert_or_reuse(
            conn,
            op_id=op_id,
            op_type="pds-scan",
            params=params or {"pdsUrl": "https://a"},
            started_by="did:x:y",
            now=T0,
            max_queued=max_queued,
        )


async def test_the_queue_is_bounded_and_a_reused_op_needs_no_room(db: Database) -> None:
    for n in range(3):
        await queue(db, f"01Q{n}", {"pdsUrl": f"https://q{n}"}, max_queued=3)
    with pytest.raises(ops.QueueFull) as full:
        await queue(db, "01Q9", {"pdsUrl": "https://q9"}, max_queued=3)
    assert full.value.limit == 3
    again, reused = await queue(db, "01QX", {"pdsUrl": "https://q0"}, max_queued=3)
    assert (again.id, reused) == ("01Q0", True)  # the trigger of a queued twin is answered, full or not
    assert await claim(db) is not None  # a running op has left the queue: room for one more
    made, reused = await queue(db, "01Q9", {"pdsUrl": "https://q9"}, max_queued=3)
    assert (made.id, reused) == ("01Q9", False)
    async with db.read() as conn:
        assert len(await ops.list_by_status(conn, "queued", 100)) == 3


async def test_concurrent_triggers_cannot_overshoot_the_bound(db: Database) -> None:
    async def one(n: int) -> bool:
        try:
            await queue(db, f"01C{n:03d}", {"pdsUrl": f"https://c{n}"}, max_queued=10)
        except ops.QueueFull:
            return False
        return True

    accepted = await asyncio.gather(*(one(n) for n in range(60)))
    assert sum(accepted) == 10
    async with db.read() as conn:
        assert len(await ops.list_by_status(conn, "queued", 100)) == 10


async def claim(db: Database, owner: str = "w1") -> ops.Operation | None:
    async with db.write() as conn:
        return await ops.claim_next(conn, types=["pds-scan"], owner=owner, lease_until=LEASE, now=T1)


async def get(db: Database, op_id: str) -> ops.Operation:
    async with db.read() as conn:
        op = await ops.get(conn, op_id)
    assert op is not None
    return op


async def test_same_type_and_params_reuse_the_active_op(db: Database) -> None:
    first, reused_first = await queue(db, "01A")
    again, reused_again = await queue(db, "01B")
    other, reused_other = await queue(db, "01C", {"pdsUrl": "https://b"})
    assert (first.id, reused_first) == ("01A", False)
    assert (again.id, reused_again) == ("01A", True)
    assert (other.id, reused_other) == ("01C", False)
    assert first.status == "queued"
    assert first.attempts == 0
    assert first.started_by == "did:x:y"


async def test_params_hash_ignores_key_order() -> None:
    assert ops.params_hash("t", {"a": 1, "b": 2}) == ops.params_hash("t", {"b": 2, "a": 1})
    assert ops.params_hash("t", {"a": 1}) != ops.params_hash("u", {"a": 1})


async def test_the_database_refuses_two_active_twins_even_without_the_lookup(db: Database) -> None:
    await queue(db, "01A")
    with pytest.raises(INTEGRITY_ERRORS):
        async with db.write() as conn:
            await conn.execute(
                "INSERT INTO operations (id, type, status, params, params_hash, requested_at, updated_at)"
                " VALUES ('01Z', 'pds-scan', 'queued', '{}', ?, ?, ?)",
                (ops.params_hash("pds-scan", {"pdsUrl": "https://a"}), T0, T0),
            )


async def test_an_ended_op_is_not_reused(db: Database) -> None:
    await queue(db, "01A")
    async with db.write() as conn:
        assert (await ops.request_cancel(conn, "01A", T1))[0] is ops.CancelResult.CANCELLED
    op, reused = await queue(db, "01B")
    assert (op.id, reused) == ("01B", False)


async def test_claim_takes_the_oldest_queued_once(db: Database) -> None:
    await queue(db, "01A")
    await queue(db, "01B", {"pdsUrl": "https://b"})
    first = await claim(db, "w1")
    second = await claim(db, "w2")
    assert first is not None
    assert second is not None
    assert (first.id, first.status, first.attempts, first.lease_owner) == ("01A", "running", 1, "w1")
    assert second.id == "01B"
    assert await claim(db, "w3") is None


async def test_claim_only_runnable_types(db: Database) -> None:
    await queue(db, "01A")
    async with db.write() as conn:
        assert await ops.claim_next(conn, types=["did-sync"], owner="w", lease_until=LEASE, now=T1) is None
        assert await ops.claim_next(conn, types=[], owner="w", lease_until=LEASE, now=T1) is None


async def test_progress_and_finish_need_the_lease(db: Database) -> None:
    await queue(db, "01A")
    await claim(db, "w1")
    async with db.write() as conn:
        assert await ops.save_progress(conn, "01A", "intruder", ops.Progress(records_processed=5), T1) is None
        assert await ops.save_progress(conn, "01A", "w1", ops.Progress(records_processed=5), T1, {"n": 5}) == "running"
        assert not await ops.finish(conn, "01A", "intruder", ops.Outcome.COMPLETED, T1)
        assert await ops.finish(conn, "01A", "w1", ops.Outcome.COMPLETED, T1)
        # ended: nothing moves it any more
        assert not await ops.finish(conn, "01A", "w1", ops.Outcome.FAILED, T1)
        assert await ops.save_progress(conn, "01A", "w1", ops.Progress(records_processed=9), T1) is None
    op = await get(db, "01A")
    assert (op.status, op.progress.records_processed, op.checkpoint, op.lease_owner) == ("completed", 5, {"n": 5}, None)
    assert op.completed_at == T1


async def test_cancel_in_every_state(db: Database) -> None:
    await queue(db, "01Q")
    await queue(db, "01R", {"pdsUrl": "https://r"})
    await claim(db, "w1")  # 01Q runs
    async with db.write() as conn:
        running = await ops.request_cancel(conn, "01Q", T1)
        again = await ops.request_cancel(conn, "01Q", T1)
        queued = await ops.request_cancel(conn, "01R", T1)
        ended = await ops.request_cancel(conn, "01R", T1)
        missing = await ops.request_cancel(conn, "nope", T1)
    assert running[0] is ops.CancelResult.REQUESTED
    assert running[1] is not None
    assert running[1].status == "cancelling"
    assert again[0] is ops.CancelResult.ALREADY_REQUESTED
    assert queued[0] is ops.CancelResult.CANCELLED
    assert queued[1] is not None
    assert queued[1].completed_at == T1
    assert ended[0] is ops.CancelResult.ENDED
    assert missing == (ops.CancelResult.NOT_FOUND, None)
    # the job reaches its checkpoint: the batch sees the request, and even a finished run ends cancelled
    async with db.write() as conn:
        assert await ops.save_progress(conn, "01Q", "w1", ops.Progress(records_processed=1), T1) == "cancelling"
        assert await ops.finish(conn, "01Q", "w1", ops.Outcome.COMPLETED, T1)
    assert (await get(db, "01Q")).status == "cancelled"


async def test_a_failure_while_cancelling_stays_failed(db: Database) -> None:
    await queue(db, "01A")
    await claim(db, "w1")
    async with db.write() as conn:
        await ops.request_cancel(conn, "01A", T1)
        assert await ops.finish(conn, "01A", "w1", ops.Outcome.FAILED, T1, error="boom", error_code="x")
    op = await get(db, "01A")
    assert (op.status, op.error, op.error_code) == ("failed", "boom", "x")


async def test_restart_requeues_running_and_completes_cancelling(db: Database) -> None:
    await queue(db, "01A")
    await queue(db, "01B", {"pdsUrl": "https://b"})
    await claim(db, "w1")
    await claim(db, "w2")
    async with db.write() as conn:
        await ops.save_progress(conn, "01A", "w1", ops.Progress(records_processed=3), T1, {"next": 3})
        await ops.request_cancel(conn, "01B", T1)
        assert await ops.requeue_orphans(conn, T1) == (1, 1)
    a, b = await get(db, "01A"), await get(db, "01B")
    assert (a.status, a.checkpoint, a.progress.records_processed, a.lease_owner) == ("queued", {"next": 3}, 3, None)
    assert b.status == "cancelled"
    again = await claim(db, "w3")
    assert again is not None
    assert again.attempts == 2
    assert again.checkpoint == {"next": 3}


async def test_release_gives_back_a_running_op_and_ends_a_cancelling_one(db: Database) -> None:
    await queue(db, "01A")
    await queue(db, "01B", {"pdsUrl": "https://b"})
    await claim(db, "w1")
    await claim(db, "w2")
    async with db.write() as conn:
        await ops.request_cancel(conn, "01B", T1)
        assert not await ops.release(conn, "01A", "intruder", T1)
        assert await ops.release(conn, "01A", "w1", T1)
        assert await ops.release(conn, "01B", "w2", T1)
    assert (await get(db, "01A")).status == "queued"
    assert (await get(db, "01B")).status == "cancelled"


async def test_expired_leases_and_exhausted_attempts(db: Database) -> None:
    await queue(db, "01A")
    await claim(db, "w1")
    async with db.write() as conn:
        assert await ops.requeue_expired(conn, "2026-01-01T00:05:00.000000Z") == (0, 0)
        assert await ops.requeue_expired(conn, "2026-01-01T00:11:00.000000Z") == (1, 0)
        assert await ops.fail_exhausted(conn, 2, T1) == []
        assert await ops.fail_exhausted(conn, 1, T1) == ["01A"]
    op = await get(db, "01A")
    assert (op.status, op.error_code) == ("failed", "too_many_attempts")


async def test_lists_history_and_pruning(db: Database) -> None:
    for n in range(3):
        await queue(db, f"01{n}", {"n": n})
    await claim(db, "w1")
    async with db.write() as conn:
        await ops.finish(conn, "010", "w1", ops.Outcome.PARTIAL, "2026-01-02T00:00:00.000000Z")
        await ops.request_cancel(conn, "011", "2026-01-03T00:00:00.000000Z")
    async with db.read() as conn:
        active = await ops.list_active(conn, 10)
        queued = await ops.list_by_status(conn, "queued", 10)
        history = await ops.history(conn, 10)
    assert [o.id for o in active] == ["012"]
    assert [o.id for o in queued] == ["012"]
    assert [o.id for o in history] == ["011", "010"]  # most recently ended first
    async with db.write() as conn:
        assert await ops.prune_ended(conn, "2026-01-02T12:00:00.000000Z") == 1
    async with db.read() as conn:
        assert [o.id for o in await ops.history(conn, 10)] == ["011"]
