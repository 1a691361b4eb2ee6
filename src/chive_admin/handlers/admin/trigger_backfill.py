"""pub.chive.admin.triggerBackfill: start any operation type by its camelCase name."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import trigger_backfill as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared import triggering
from chive_admin.handlers.shared.operation_view import as_view_model
from chive_admin.xrpc.errors import XRPCError


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    registry = call.services.engine.registry
    op_type = registry.type_for(call.input.type)
    if op_type is None:
        known = ", ".join(registry.trigger_names)
        message = f"Unknown backfill type {call.input.type!r}; expected one of {known}"
        raise XRPCError.named("InvalidBackfillType", message)
    fields = triggering.present_fields(call.input, exclude={"type"})
    op = await triggering.start(call, op_type, fields)
    return api.Output(operation=as_view_model(api.BackfillOperation, op))
