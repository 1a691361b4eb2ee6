"""The dead-letter queue: one entry per failing item, listed in queue order, retried, dismissed and purged."""

from __future__ import annotations

from typing import Any

from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import dead_letters
from chive_admin.store import operations as ops
from chive_admin.store.db import Database

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
T2 = "2026-01-03T00:00:00.000000Z"


async def park(
    db: Database, item: Any, *, error_type: str = "invalid_record", message: str = "bad", now: str = T0
) -> int:
    async with db.write() as conn:
        return await dead_letters.add(
            conn,
            operation_id=None,
            job_type="did-sync",
            error_type=error_type,
            message=message,
            context={"uri": str(item)},
            item=item,
            now=now,
        )


async def test_an_entry_keeps_what_the_job_needs_to_retry_it(db: Database) -> None:
    item = {"kind": "record", "uri": "at://did:plc:a/pub.chive.review.comment/3k", "pds": "https://pds.example"}
    entry_id = await park(db, item, message="title: wrong type")
    async with db.read() as conn:
        entry = await dead_letters.get(conn, entry_id)
        assert await dead_letters.get(conn, entry_id + 1) is None
    assert entry == dead_letters.DeadLetter(
        id=entry_id,
        operation_id=None,
        job_type="did-sync",
        error_type="invalid_record",
        message="title: wrong type",
        context={"uri": str(item)},
        item=item,
        created_at=T0,
        retry_count=0,
        last_retry_at=None,
    )


async def test_the_same_item_failing_the_same_way_again_refreshes_its_entry(db: Database) -> None:
    first = await park(db, {"uri": "at://x", "pds": "https://a"}, message="first")
    # the same item whatever the key order: items are stored canonically
    again = await park(db, {"pds": "https://a", "uri": "at://x"}, message="second", now=T1)
    other_way = await park(db, {"uri": "at://x", "pds": "https://a"}, error_type="record_not_found")
    async with db.read() as conn:
        entries, total = await dead_letters.page(conn, 10, 0)
    assert again == first
    assert other_way != first
    assert total == 2
    refreshed = entries[0]
    assert (refreshed.message, refreshed.created_at) == ("second", T0)  # refreshed, but queued since the first time


async def test_pages_positions_and_counts_follow_queue_order(db: Database) -> None:
    made = [await park(db, n, error_type="a" if n % 2 else "b") for n in range(5)]
    async with db.read() as conn:
        page, total = await dead_letters.page(conn, 2, 1)
        assert ([e.item for e in page], total) == ([1, 2], 5)
        assert (await dead_letters.page(conn, 10, 5)) == ([], 5)
        third = await dead_letters.at_index(conn, 2)
        assert third is not None
        assert third.id == made[2]
        assert await dead_letters.at_index(conn, 5) is None
        assert await dead_letters.at_index(conn, -1) is None  # never counted from the end
        assert (await dead_letters.count(conn), await dead_letters.count(conn, "a")) == (5, 2)
        assert await dead_letters.ids(conn) == made
        assert await dead_letters.ids(conn, "b") == [made[0], made[2], made[4]]
        assert await dead_letters.ids(conn, "none") == []


async def test_a_failed_retry_counts_and_a_removal_frees_the_position(db: Database) -> None:
    first, second = await park(db, 1), await park(db, 2)
    async with db.write() as conn:
        await dead_letters.retried_and_failed(conn, first, "refused again", T1)
        await dead_letters.retried_and_failed(conn, first, "refused a third time", T2)
        assert await dead_letters.remove(conn, second)
        assert not await dead_letters.remove(conn, second)  # already gone
    async with db.read() as conn:
        kept = await dead_letters.get(conn, first)
        assert await dead_letters.ids(conn) == [first]
    assert kept is not None
    assert (kept.retry_count, kept.last_retry_at, kept.message) == (2, T2, "refused a third time")


async def test_purge_removes_entries_queued_before_a_time(db: Database) -> None:
    old, recent = await park(db, "old", now=T0), await park(db, "recent", now=T2)
    async with db.write() as conn:
        assert await dead_letters.purge_older(conn, T1) == 1
        assert await dead_letters.purge_older(conn, T1) == 0
    async with db.read() as conn:
        assert await dead_letters.ids(conn) == [recent]
        assert await dead_letters.get(conn, old) is None


async def test_dead_letters_survive_their_operation_being_pruned(db: Database) -> None:
    async with db.write() as conn:
        await ops.insert_or_reuse(
            conn,
            op_id="01A",
            op_type="pds-scan",
            params={"pdsUrl": "https://a"},
            started_by=None,
            now=T0,
            max_queued=DEFAULT_MAX_QUEUED_OPS,
        )
        await ops.claim_next(conn, types=["pds-scan"], owner="w1", lease_until=T2, now=T0)
        entry = await dead_letters.add(
            conn,
            operation_id="01A",
            job_type="pds-scan",
            error_type="invalid_record",
            message="bad",
            context={"uri": "at://x"},
            item={"uri": "at://x"},
            now=T0,
        )
        await ops.finish(conn, "01A", "w1", ops.Outcome.PARTIAL, T0)
        assert await ops.prune_ended(conn, "2027-01-01T00:00:00.000000Z") == 1
    async with db.read() as conn:
        kept = await dead_letters.get(conn, entry)
    assert kept is not None
    assert kept.operation_id is None
    assert kept.context == {"uri": "at://x"}
