"""The entry at a queue position (what retryDLQEntry and dismissDLQEntry take), or a 400 naming the queue's size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chive_admin.clock import now_stamp
from chive_admin.handlers.shared.dlq_entry import at_index
from chive_admin.store import dead_letters
from chive_admin.store.db import Database
from chive_admin.xrpc.errors import XRPCError


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "dlq.db", readers=1)
    async with database.write() as conn:
        for item in range(3):
            await dead_letters.add(
                conn,
                operation_id=None,
                job_type="test-count",
                error_type="test_item",
                message=f"item {item}",
                context={},
                item={"item": item},
                now=now_stamp(),
            )
    yield database
    await database.close()


async def test_positions_count_from_the_head_of_the_queue(db: Database) -> None:
    assert [(await at_index(db, n)).item for n in range(3)] == [{"item": 0}, {"item": 1}, {"item": 2}]
    first = await at_index(db, 0)
    async with db.write() as conn:
        await dead_letters.remove(conn, first.id)
    assert (await at_index(db, 0)).item == {"item": 1}  # positions shift after a removal


@pytest.mark.parametrize("index", [3, -1, 10**9])
async def test_no_entry_there_is_an_invalid_request(db: Database, index: int) -> None:
    with pytest.raises(XRPCError) as caught:
        await at_index(db, index)
    assert (caught.value.status, caught.value.error) == (400, "InvalidRequest")
    assert caught.value.message == f"No dead-letter entry at index {index} (the queue holds 3)"
