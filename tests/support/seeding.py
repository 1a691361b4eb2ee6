"""Operations put straight into the store for a test: a new one queued, or queued and claimed at once."""

from __future__ import annotations

from typing import Any

from ulid import ULID

from chive_admin.clock import now_stamp
from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import operations as ops
from chive_admin.store.sql import Conn

#: a lease that never runs out while a test looks
FAR = "2999-01-01T00:00:00.000000Z"


async def new_op(
    conn: Conn,
    op_type: str,
    params: dict[str, Any],
    *,
    started_by: str | None = None,
    claimed_by: str | None = None,
    lease_until: str = FAR,
) -> ops.Operation:
    """A new op of ``op_type`` (never a reused one); with ``claimed_by`` also claimed, which takes the oldest queued op
    of its type: the test must have queued none before it."""
    op, reused = await ops.insert_or_reuse(
        conn,
        op_id=str(ULID()),
        op_type=op_type,
        params=params,
        started_by=started_by,
        now=now_stamp(),
        max_queued=DEFAULT_MAX_QUEUED_OPS,
    )
    assert not reused
    if claimed_by is None:
        return op
    claimed = await ops.claim_next(conn, types=[op_type], owner=claimed_by, lease_until=lease_until, now=now_stamp())
    assert claimed is not None
    assert claimed.id == op.id, "another op of this type was queued first"
    return claimed
