"""pub.chive.admin.cancelBackfill: two-phase cancel (queued ends at once; running stops at its next checkpoint, or
is interrupted by the engine if it does not reach one within its grace)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import cancel_backfill as api
from chive_admin.handlers.call import Call
from chive_admin.store.operations import CancelResult
from chive_admin.xrpc.errors import XRPCError


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    op_id = call.input.id
    call.note.target = op_id
    result, op = await call.services.engine.cancel(op_id)
    if result is CancelResult.NOT_FOUND:
        raise XRPCError.invalid_request(f"No operation has id {op_id!r}")
    if result is CancelResult.ENDED:
        status = op.status if op else "ended"
        raise XRPCError.invalid_request(f"Operation {op_id} is already {status}")
    call.note.detail = result.value
    return api.Output(success=True)
