"""The per-type trigger methods (triggerPDSScan, triggerDIDSync, …): same path as triggerBackfill, one fixed type."""

from __future__ import annotations

from typing import Any

from chive_admin.handlers.call import Call, Handler
from chive_admin.handlers.shared import triggering
from chive_admin.lex import LexModel, Route


def handler_for(op_type: str, route: Route) -> Handler:
    output = route.output
    if output is None:  # codegen bug, caught at import: every trigger method answers with its operationId
        raise TypeError(f"{route.nsid} declares no output")

    async def handle(call: Call[Any, Any]) -> LexModel:
        op = await triggering.start(call, op_type, triggering.present_fields(call.input))
        return output.model_validate({"operationId": op.id})

    handle.__name__ = f"trigger_{op_type.replace('-', '_')}"
    return handle
