"""pub.chive.admin.getBackfillHistory: ended operations, the most recently ended first."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_backfill_history as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.operation_view import as_view_model
from chive_admin.store import operations as ops

#: the lexicon takes no limit; the answer stays bounded anyway
HISTORY_LIMIT = 100


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        ended = await ops.history(conn, HISTORY_LIMIT)
    return api.Output(operations=[as_view_model(api.BackfillOperation, op) for op in ended])
