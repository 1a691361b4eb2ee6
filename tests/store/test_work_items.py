"""An operation's work list: items added once, moved through their states with their position, gone with the op."""

from __future__ import annotations

import pytest
from support.databases import INTEGRITY_ERRORS

from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import operations as ops
from chive_admin.store import work_items
from chive_admin.store.db import Database

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
