"""What a running job sees, on a real database: a batch commits its data, counters and checkpoint together or none
of them, and says after its commit when the job must stop (cancel, shutdown, a lost lease)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import TypeAdapter

from chive_admin.backfill.context import CancelRequested, JobContext, LeaseLost, ShuttingDown
from chive_admin.backfill.items import Item
from chive_admin.backfill.job import JobServices
from chive_admin.ingest.fetch import InvalidRecord
from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import dead_letters
from chive_admin.store import operations as ops
from chive_admin.store.db import Database

T0 = "2026-01-01T00:00:00.000000Z"
LEASE = "2999-01-01T00:00:00.000000Z"
OWNER = "worker-1"
ITEMS = "CREATE TABLE items (n INTEGER NOT NULL)"


async def claimed(db: Database) -> ops.Operation:
    async with db.write() as conn:
        await ops.insert_or_reuse(
            conn,
            op_id="01CTX",
            op_type="test-count",
            params={},
            started_by=None,
            now=T0,
            max_queued=DEFAULT_MAX_QUEUED_OPS,
        )
        op = await ops.claim_next(conn, types=["test-count"], owner=OWNER, lease_until=LEASE, now=T0)
        await conn.execute(ITEMS)
    assert op is not None
    return op


class Numbered(Item):
    """A test job's item: one number."""

    n: int


def context(
    db: Database, op: ops.Operation, *, stopping: bool = False, on_end: Callable[[], None] = lambda: None
) -> JobContext[dict[str, Any]]:
    return JobContext(
        op,
        owner=OWNER,
        db=db,
        services=cast(JobServices, SimpleNamespace()),
        checkpoints=TypeAdapter(dict[str, Any]),
        stages=("listing", "writing"),
        stopping=lambda: stopping,
        on_end=on_end,
    )


async def stored(db: Database) -> ops.Operation:
    async with db.read() as conn:
        op = await ops.get(conn, "01CTX")
    assert op is not None
    return op


async def items(db: Database) -> list[int]:
    async with db.read() as conn:
        return [int(row[0]) for row in await conn.fetchall("SELECT n FROM items ORDER BY n")]


async def write_item(ctx: JobContext, n: int, *, then_fail: bool = False) -> None:
    """One batch: item ``n`` written, counted and made the checkpoint; with ``then_fail``, the batch fails after."""
    async with ctx.batch() as conn:
        await conn.execute("INSERT INTO items (n) VALUES (?)", (n,))
        ctx.progress.records_processed += 1
        ctx.count("inserted")
        # replaced, never changed in place: a checkpoint is a value, so what was committed keeps its own
        ctx.checkpoint = {"seen": [*ctx.checkpoint["seen"], n]}
        ctx.stage("writing")
        if then_fail:
            raise RuntimeError("half way")


async def test_a_batch_commits_its_data_counters_and_checkpoint_together(db: Database) -> None:
    ctx = context(db, await claimed(db))
    assert not ctx.checkpoint is not None
    ctx.stage("listing")
    async with ctx.batch() as conn:
        await conn.execute("INSERT INTO items (n) VALUES (1), (2)")
        ctx.progress.records_processed += 2
        ctx.progress.total_records = 10
        ctx.count("inserted", 2)
        ctx.checkpoint = {"after": 2}
    op = await stored(db)
    assert (
        op.progress.stage,
        op.progress.records_processed,
        op.progress.total_records,
        op.progress.counts,
        op.checkpoint,
    ) == (
        "listing",
        2,
        10,
        {"inserted": 2},
        {"after": 2},
    )
    assert await items(db) == [1, 2]
    # a context built from that row (as after a restart) starts where the batch left off
    resumed = context(db, op)
    assert (
        resumed.checkpoint is not None,
        resumed.checkpoint,
        resumed.progress.records_processed,
        resumed.progress.counts,
    ) == (
        True,
        {"after": 2},
        2,
        {"inserted": 2},
    )


async def test_a_failed_batch_leaves_nothing_and_the_context_as_committed(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with ctx.batch():
        ctx.checkpoint = {"seen": []}
    await write_item(ctx, 1)
    with pytest.raises(RuntimeError, match="half way"):
        await write_item(ctx, 7, then_fail=True)
    assert (ctx.checkpoint, ctx.progress.records_processed, ctx.progress.counts) == ({"seen": [1]}, 1, {"inserted": 1})
    assert await items(db) == [1]
    assert (await stored(db)).checkpoint == {"seen": [1]}


async def test_a_cancel_request_is_seen_by_the_next_batch_after_its_commit(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with db.write() as conn:
        assert (await ops.request_cancel(conn, "01CTX", T0))[0] is ops.CancelResult.REQUESTED
    ctx.checkpoint = {"seen": []}
    with pytest.raises(CancelRequested):
        await write_item(ctx, 3)
    assert await items(db) == [3]  # the batch committed: the job stops at this checkpoint
    assert (await stored(db)).checkpoint == {"seen": [3]}


async def test_a_shutdown_stops_the_job_after_its_commit(db: Database) -> None:
    ctx = context(db, await claimed(db), stopping=True)
    ctx.checkpoint = {"seen": []}
    with pytest.raises(ShuttingDown):
        await write_item(ctx, 4)
    assert await items(db) == [4]


async def test_a_lost_lease_rolls_the_batch_back(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with db.write() as conn:  # another worker took the op over
        await conn.execute("UPDATE operations SET lease_owner = 'worker-2' WHERE id = '01CTX'")
    ctx.checkpoint = {"seen": []}
    with pytest.raises(LeaseLost):
        await write_item(ctx, 5)
    assert await items(db) == []
    assert (ctx.progress.records_processed, ctx.checkpoint) == (0, None)
    assert (await stored(db)).progress.records_processed == 0


async def test_only_declared_stages_are_reported(db: Database) -> None:
    ctx = context(db, await claimed(db))
    with pytest.raises(ValueError, match="stage 'sleeping' is not declared by test-count"):
        ctx.stage("sleeping")
    ctx.stage("writing")
    await ctx.save()
    assert (await stored(db)).progress.stage == "writing"


@pytest.mark.parametrize(("failed", "status"), [(0, "completed"), (1, "partial")])
async def test_a_last_batch_ends_the_op_in_its_own_transaction(db: Database, failed: int, status: str) -> None:
    ended: list[int] = []
    ctx = context(db, await claimed(db), on_end=lambda: ended.append(1))
    async with ctx.batch(last=True) as conn:
        await conn.execute("INSERT INTO items (n) VALUES (1)")
        ctx.progress.records_processed = 1
        ctx.progress.records_failed = failed
    op = await stored(db)
    assert (op.status, op.progress.records_processed, op.lease_owner, op.completed_at is not None) == (
        status,
        1,
        None,
        True,
    )
    assert ctx.ended == op
    assert ended == [1]  # the engine drops what it kept of the op's state
    with pytest.raises(RuntimeError, match="has ended"):
        async with ctx.batch():
            pass


async def test_a_last_batch_after_a_cancel_request_ends_the_op_cancelled(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with db.write() as conn:
        assert (await ops.request_cancel(conn, "01CTX", T0))[0] is ops.CancelResult.REQUESTED
    async with ctx.batch(last=True):  # no CancelRequested: the op has ended, there is nothing to stop
        pass
    assert (await stored(db)).status == "cancelled"


async def test_a_failed_last_batch_ends_nothing(db: Database) -> None:
    ctx = context(db, await claimed(db))

    async def fail_half_way() -> None:
        async with ctx.batch(last=True) as conn:
            await conn.execute("INSERT INTO items (n) VALUES (1)")
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        await fail_half_way()
    assert ((await stored(db)).status, await items(db), ctx.ended) == ("running", [], None)


async def test_a_quick_step_commits_its_stage_with_the_next_batch(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with ctx.in_stage("listing", shown_after=60):
        await asyncio.sleep(0)
    assert (await stored(db)).progress.stage is None  # no transaction of its own
    async with ctx.batch():
        pass
    assert (await stored(db)).progress.stage == "listing"


async def test_a_long_step_shows_its_stage_while_it_runs(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with ctx.in_stage("listing", shown_after=0.01):
        for _ in range(500):  # until the stage is committed (a failure would wait the whole loop)
            if (await stored(db)).progress.stage == "listing":
                break
            await asyncio.sleep(0.01)
        assert (await stored(db)).progress.stage == "listing"


async def test_a_stop_met_by_the_stage_commit_is_met_again_by_the_next_batch(db: Database) -> None:
    ctx = context(db, await claimed(db))
    async with db.write() as conn:
        assert (await ops.request_cancel(conn, "01CTX", T0))[0] is ops.CancelResult.REQUESTED
    async with ctx.in_stage("listing", shown_after=0):
        await asyncio.sleep(0.05)  # the stage's commit runs and meets the cancel request: the step goes on
    assert (await stored(db)).progress.stage == "listing"
    ctx.checkpoint = {"seen": []}
    with pytest.raises(CancelRequested):
        await write_item(ctx, 1)
    assert await items(db) == [1]  # committed, then stopped


async def test_a_failed_step_leaves_no_commit_running(db: Database) -> None:
    ctx = context(db, await claimed(db))
    with pytest.raises(RuntimeError, match="download failed"):
        async with ctx.in_stage("listing", shown_after=0.01):
            raise RuntimeError("download failed")
    await asyncio.sleep(0.05)
    assert (await stored(db)).progress.stage is None


async def test_dead_letters_are_parked_in_the_batch_and_counted_as_failed(db: Database) -> None:
    ctx = context(db, await claimed(db))
    bad = [InvalidRecord("at://did:plc:a/pub.chive.review.comment/3k1", "body: wrong type")]
    async with ctx.batch() as conn:
        await ctx.dead_letter(conn, error_type="item_refused", message="no", context={"n": 1}, item=Numbered(n=1))
        await ctx.dead_letter_records(conn, bad, did="did:plc:a", pds="https://pds.example")
    assert (await stored(db)).progress.records_failed == ctx.progress.records_failed == 2
    async with db.read() as conn:
        entries, _ = await dead_letters.page(conn, 10, 0)
    assert [(e.operation_id, e.job_type, e.error_type, e.item) for e in entries] == [
        ("01CTX", "test-count", "item_refused", {"n": 1}),
        ("01CTX", "test-count", "invalid_record", {"kind": "record", "uri": bad[0].uri, "pds": "https://pds.example"}),
    ]
    assert entries[1].context == {"uri": bad[0].uri, "did": "did:plc:a", "pds": "https://pds.example"}
    assert entries[1].message == "body: wrong type"


async def test_the_batches_of_one_job_commit_one_at_a_time(db: Database) -> None:
    """A job's concurrent fetches (a pds-scan's repositories) each write a batch: a failing one must not take a
    committed neighbour's counts with it, nor leave its own in what the neighbour commits. PostgreSQL runs
    transactions side by side, so the context itself makes the batches of one job take turns."""
    ctx = context(db, await claimed(db))
    async with ctx.batch():
        ctx.checkpoint = {"seen": []}
    failing_started = asyncio.Event()
    release = asyncio.Event()

    async def failing() -> None:
        async with ctx.batch() as conn:
            await conn.execute("INSERT INTO items (n) VALUES (?)", (99,))
            ctx.progress.records_processed += 5
            failing_started.set()
            await release.wait()
            raise RuntimeError("this batch fails after its neighbour tried to commit")

    async def committing() -> None:
        await failing_started.wait()
        await write_item(ctx, 1)

    failing_task = asyncio.create_task(failing())
    committing_task = asyncio.create_task(committing())
    await failing_started.wait()
    await asyncio.sleep(0.2)  # the neighbour is at its batch now: it must wait, not commit these 5 with its own
    release.set()
    with pytest.raises(RuntimeError, match="neighbour"):
        await failing_task
    await committing_task
    assert await items(db) == [1]
    assert ((await stored(db)).progress.records_processed, ctx.progress.records_processed) == (1, 1)
