"""pub.chive.admin.getBackfillStatus: one op by id, the ops in one state, or every active op."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_backfill_status as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.operation_view import as_view_model
from chive_admin.store import operations as ops
from chive_admin.xrpc.errors import XRPCError

#: bound on one answer; active ops are few, ended ones are paged by getBackfillHistory
MAX_LISTED = 1000


async def handle(call: Call[api.Params, None]) -> api.Output:
    op_id, status = call.params.id, call.params.status
    if status is not None and status not in ops.STATUSES:
        raise XRPCError.invalid_request(f"Unknown status {status!r}; expected one of {', '.join(ops.STATUSES)}")
    listings = call.services.status_answers
    if op_id is None:
        return await listings.get(status, lambda: _listing(call, status))
    return await listings.get((op_id, status), lambda: _one(call, op_id, status))


async def _one(call: Call[api.Params, None], op_id: str, status: str | None) -> api.Output:
    async with call.services.db.read() as conn:
        op = await ops.get(conn, op_id)
    if op is None or (status is not None and op.status != status):
        suffix = f" and status {status}" if op else ""
        raise XRPCError.invalid_request(f"No operation has id {op_id!r}{suffix}")
    return api.Output(operation=as_view_model(api.BackfillOperation, call.services.engine.view(op)))


async def _listing(call: Call[api.Params, None], status: str | None) -> api.Output:
    async with call.services.db.read() as conn:
        found = await (ops.list_by_status(conn, status, MAX_LISTED) if status else ops.list_active(conn, MAX_LISTED))
    engine = call.services.engine
    return api.Output(operations=[as_view_model(api.BackfillOperation, engine.view(op)) for op in found])
