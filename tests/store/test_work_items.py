"""An operation's work list: items added once, moved through their states with their position, gone with the op."""

from __future__ import annotations

import pytest
from support.databases import INTEGRITY_ERRORS
from support.recording import RecordingConn

from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import operations as ops
from chive_admin.store import work_items
from chive_admin.store.db import Database
from chive_admin.store.sql import Dialect

T0 = "2026-01-01T00:00:00.000000Z"
OP = "01WORK"


@pytest.fixture
async def db(db: Database) -> Database:
    """The test database holding one queued operation, ``OP``."""
    async with db.write() as conn:
        await ops.insert_or_reuse(
            conn, op_id=OP, op_type="pds-scan", params={}, started_by=None, now=T0, max_queued=DEFAULT_MAX_QUEUED_OPS
        )
    return db


async def test_items_are_added_pending_once(db: Database) -> None:
    async with db.write() as conn:
        first = await work_items.add(conn, OP, [("did:b", {"pds": "https://p"}), ("did:a", {"pds": "https://p"})])
        # a page re-read after a resume lists the same repositories again: nothing is added, nothing reset
        await work_items.update(conn, OP, "did:a", state="done", info={"pds": "https://p", "next": 3})
        again = await work_items.add(conn, OP, [("did:a", {"pds": "https://other"}), ("did:c", {})])
        assert await work_items.add(conn, OP, []) == 0
    async with db.read() as conn:
        pending = await work_items.with_state(conn, OP, "pending")
        done = await work_items.with_state(conn, OP, "done")
    assert (first, again) == (2, 1)
    assert pending == [("did:b", {"pds": "https://p"}), ("did:c", {})]  # in item order
    assert done == [("did:a", {"pds": "https://p", "next": 3})]


async def test_counts_name_every_state(db: Database) -> None:
    async with db.write() as conn:
        await work_items.add(conn, OP, [(f"did:{n}", {}) for n in range(4)])
        await work_items.update(conn, OP, "did:0", state="failed", info={})
        await work_items.update(conn, OP, "did:1", state="skipped", info={})
        await work_items.update(conn, OP, "did:2", state="done", info={})
    async with db.read() as conn:
        assert await work_items.counts(conn, OP) == {"pending": 1, "done": 1, "failed": 1, "skipped": 1}
        assert await work_items.counts(conn, "01OTHER") == dict.fromkeys(work_items.STATES, 0)


async def test_an_unknown_state_is_refused_by_the_database(db: Database) -> None:
    async with db.write() as conn:
        await work_items.add(conn, OP, [("did:a", {})])
    with pytest.raises(INTEGRITY_ERRORS):
        async with db.write() as conn:
            await work_items.update(conn, OP, "did:a", state="sleeping", info={})


async def test_items_belong_to_an_existing_operation_and_go_with_it(db: Database) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        async with db.write() as conn:
            await work_items.add(conn, "01NOSUCHOP", [("did:a", {})])
    async with db.write() as conn:
        await work_items.add(conn, OP, [("did:a", {})])
        assert (await ops.request_cancel(conn, OP, T0))[0] is ops.CancelResult.CANCELLED
        assert await ops.prune_ended(conn, "2027-01-01T00:00:00.000000Z") == 1
    async with db.read() as conn:
        assert await work_items.counts(conn, OP) == dict.fromkeys(work_items.STATES, 0)


async def test_a_page_is_the_next_items_of_a_state_in_item_order(db: Database) -> None:
    async with db.write() as conn:
        await work_items.add(conn, OP, [(f"did:{n}", {"n": n}) for n in range(7)])
        await work_items.update(conn, OP, "did:2", state="done", info={})
    async with db.read() as conn:
        first = await work_items.page(conn, OP, "pending", after="", limit=3)
        second = await work_items.page(conn, OP, "pending", after=first[-1][0], limit=3)
        last = await work_items.page(conn, OP, "pending", after=second[-1][0], limit=3)
        done = await work_items.page(conn, OP, "done", after="", limit=3)
    assert [item for item, _ in first] == ["did:0", "did:1", "did:3"]
    assert [item for item, _ in second] == ["did:4", "did:5", "did:6"]
    assert last == []
    assert done == [("did:2", {})]
    assert first[0] == ("did:0", {"n": 0})


async def test_a_page_a_million_items_in_is_a_seek(db: Database) -> None:
    """The read each page of a network backfill makes: bounded by the index, never a sort of every pending item."""
    async with db.write() as conn:
        recording = RecordingConn(conn)
        await work_items.page(recording, OP, "pending", after="did:m", limit=1000)
        sql, args = recording.statements[-1]
        if conn.dialect is Dialect.POSTGRES:
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_sort = off")
            plan = "\n".join(str(row[0]) for row in await conn.fetchall(f"EXPLAIN {sql}", args))
            assert "operation_items_state" in plan, plan
            assert "Sort" not in plan, plan
            assert [line for line in plan.splitlines() if "Index Cond" in line and "item >" in line], plan
        else:
            plan = " ".join(str(row[-1]) for row in await conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", args))
            assert "USING INDEX operation_items_state" in plan or "USING PRIMARY KEY" in plan, plan
            assert "item>?" in plan.replace(" ", ""), plan
            assert "TEMP B-TREE" not in plan, plan


async def test_an_item_twice_in_one_page_is_added_once(db: Database) -> None:
    # a relay may list a DID twice in one page: one statement, one row
    async with db.write() as conn:
        assert await work_items.add(conn, OP, [("did:a", {}), ("did:b", {}), ("did:a", {})]) == 2
