"""A real ``chive-admin serve`` killed with SIGKILL mid-operation, or stopped with SIGTERM, then started again:
the operation resumes from its checkpoint and every item is processed exactly once — on a SQLite file, and on a
PostgreSQL database (where the restarted server waits for the killed one's lease to run out)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from support.databases import new_target
from support.db_rows import rows as read
from support.server import ServerProcess, count_job_server, db_arg

from chive_admin.clock import now_stamp
from chive_admin.store import operations as ops
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget

pytestmark = pytest.mark.both_backends

ITEMS = 1500
#: uvicorn re-raises SIGTERM after its graceful shutdown, so a supervisor sees the signal as the exit cause
GRACEFUL = (0, -signal.SIGTERM)


#: on PostgreSQL a restarted server takes the killed one's op once its lease has run out: a short one
LEASE_SECONDS = "3"


def server(tmp_path: Path, db: DbTarget) -> ServerProcess:
    return count_job_server(
        tmp_path,
        ["--db", db_arg(db), "--log-level", "warning", "--lease-seconds", LEASE_SECONDS],
        {"TEST_JOB_ITEMS": str(ITEMS), "TEST_JOB_DELAY": "0.01"},
    )


async def queue_op(db_path: DbTarget) -> str:
    """Queue the op through the store, as a trigger would (the server picks it up when it starts)."""
    db = await Database.open(db_path, readers=1)
    try:
        async with db.write() as conn:
            op, _ = await ops.insert_or_reuse(
                conn,
                op_id="01TESTCRASH",
                op_type="test-count",
                params={"batchSize": 10},
                started_by=None,
                now=now_stamp(),
                max_queued=1,
            )
    finally:
        await db.close()
    return op.id


def progress(db_path: DbTarget, op_id: str) -> tuple[str, int, int]:
    status, processed, attempts = read(
        db_path, "SELECT status, records_processed, attempts FROM operations WHERE id = ?", op_id
    )[0]
    return str(status), int(str(processed)), int(str(attempts))


def wait_for(db_path: DbTarget, op_id: str, done: int | None = None, status: str | None = None) -> tuple[str, int, int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = progress(db_path, op_id)
        if (done is not None and current[1] >= done) or (status is not None and current[0] == status):
            return current
        time.sleep(0.02)
    pytest.fail(f"operation did not get there: {progress(db_path, op_id)}")


def assert_each_item_once(db_path: DbTarget, op_id: str) -> None:
    rows = read(db_path, "SELECT item, count(*) FROM test_items WHERE op_id = ? GROUP BY item ORDER BY item", op_id)
    assert [r[0] for r in rows] == list(range(ITEMS))
    assert {r[1] for r in rows} == {1}


def test_sigkill_mid_operation_then_restart_resumes_with_every_item_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db_path = new_target(request, backend, tmp_path / "crash.db")
    op_id = asyncio.run(queue_op(db_path))
    kills = 0
    for threshold in (150, 600, 1100):
        proc = server(tmp_path, db_path).start()
        try:
            before = wait_for(db_path, op_id, done=threshold)
            assert before[0] == "running"
        finally:
            proc.stop(signal.SIGKILL)
        kills += 1
        # what was committed before the kill is still there, and no item twice
        committed = read(db_path, "SELECT count(*), count(DISTINCT item) FROM test_items WHERE op_id = ?", op_id)[0]
        assert committed[0] == committed[1] >= threshold
    proc = server(tmp_path, db_path).start()
    try:
        status, processed, attempts = wait_for(db_path, op_id, status="completed")
    finally:
        assert proc.stop() in GRACEFUL
    assert (status, processed, attempts) == ("completed", ITEMS, kills + 1)
    assert_each_item_once(db_path, op_id)


def test_sigterm_releases_the_operation_and_the_next_start_resumes_at_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db_path = new_target(request, backend, tmp_path / "term.db")
    op_id = asyncio.run(queue_op(db_path))
    proc = server(tmp_path, db_path).start()
    try:
        wait_for(db_path, op_id, done=200)
    finally:
        code = proc.stop(signal.SIGTERM)
    assert code in GRACEFUL
    status, processed, _ = progress(db_path, op_id)
    assert status == "queued"  # released, not left "running" for a lease to expire
    checkpoint = read(db_path, "SELECT checkpoint FROM operations WHERE id = ?", op_id)[0][0]
    assert int(str(checkpoint)) == processed
    proc = server(tmp_path, db_path).start()
    try:
        assert wait_for(db_path, op_id, status="completed")[1] == ITEMS
    finally:
        proc.stop()
    assert_each_item_once(db_path, op_id)
