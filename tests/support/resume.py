"""Operations as an earlier version of the server left them: started, checkpointed with the JSON that version
stored, then interrupted. A test stores one while the engine runs, and sees its job resume from that checkpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from ulid import ULID

from chive_admin.clock import now_stamp, stamp_in
from chive_admin.settings import DEFAULT_MAX_QUEUED_OPS
from chive_admin.store import operations as ops
from chive_admin.store import work_items

#: the worker that stored it: gone, as after a crash or a restart
EARLIER = "earlier-process"


async def left_off(
    app: Starlette,
    op_type: str,
    params: dict[str, Any],
    checkpoint: Any,
    *,
    progress: ops.Progress | None = None,
    work: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Store an op of ``op_type`` that ran once and committed ``checkpoint`` (its stored JSON, as given) with
    ``progress`` and its work list (item → info, as stored), then went back to the queue; wake the engine.

    One transaction: no worker sees it half made."""
    async with app.state.services.db.write() as conn:
        op, _ = await ops.insert_or_reuse(
            conn,
            op_id=str(ULID()),
            op_type=op_type,
            params=params,
            started_by=None,
            now=now_stamp(),
            max_queued=DEFAULT_MAX_QUEUED_OPS,
        )
        claimed = await ops.claim_next(conn, types=[op_type], owner=EARLIER, lease_until=stamp_in(60), now=now_stamp())
        assert claimed is not None
        assert claimed.id == op.id
        await work_items.add(conn, op.id, (work or {}).items())
        await ops.save_progress(conn, op.id, EARLIER, progress or ops.Progress(), now_stamp(), checkpoint)
        assert await ops.release(conn, op.id, EARLIER, now_stamp())
    app.state.services.engine.wake()
    return op.id


async def ended(app: Starlette, op_id: str, limit: float = 30.0) -> ops.Operation:
    """The op once it has ended (``limit`` bounds the test, it is no speed claim)."""
    async with asyncio.timeout(limit):
        while True:
            async with app.state.services.db.read() as conn:
                op = await ops.get(conn, op_id)
            assert op is not None
            if op.ended:
                return op
            await asyncio.sleep(0.02)
