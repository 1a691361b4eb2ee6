"""Operations as an earlier version of the server left them: started, checkpointed with the JSON that version
stored, then interrupted. A test stores one while the engine runs, and sees its job resume from that checkpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette

from chive_admin.clock import now_stamp, stamp_in
from chive_admin.store import operations as ops
from chive_admin.store import work_items
from support.seeding import new_op

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
        op = await new_op(conn, op_type, params, claimed_by=EARLIER, lease_until=stamp_in(60))
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
