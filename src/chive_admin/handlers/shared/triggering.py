"""Starting an operation from any trigger method: type lookup, typed params, idempotent enqueue, audit note.

A full queue (``--max-queued-ops``) answers 503 ``NotEnoughResources``: the server is out of room for work, not the
caller over a rate, and the call may succeed once queued operations have started or been cancelled.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chive_admin.backfill.engine import NotRunnable
from chive_admin.backfill.job import JobParams, Refused
from chive_admin.handlers.call import Call
from chive_admin.lex.validation import describe
from chive_admin.store.operations import Operation, QueueFull
from chive_admin.xrpc.errors import XRPCError

#: the Retry-After of a full queue: about the time a worker takes to start the next op
QUEUE_FULL_RETRY_SECONDS = 10


async def start(call: Call[Any, Any], op_type: str, fields: dict[str, Any]) -> Operation:
    """Validate ``fields`` (lexicon names) as ``op_type``'s params and queue the op, or return the active twin."""
    engine = call.services.engine
    job = engine.registry.job(op_type)
    if job is None:
        raise XRPCError.not_implemented(f"{op_type} operations are not implemented yet")
    try:
        params = job.params_model.model_validate(fields)
    except ValidationError as exc:
        raise XRPCError.invalid_request(describe(exc, what=f"{op_type} parameters")) from None
    try:
        await job.admit(params, call.services)
    except Refused as exc:
        raise XRPCError.invalid_request(str(exc)) from None
    return await enqueue(call, op_type, params)


async def enqueue(call: Call[Any, Any], op_type: str, params: JobParams) -> Operation:
    """Queue the op (or find its active twin) and note it for the audit trail; 503 when the queue is full."""
    try:
        op, reused = await call.services.engine.trigger(op_type, params, call.principal.did)
    except NotRunnable:
        raise XRPCError.not_implemented(f"{op_type} operations are not implemented yet") from None
    except QueueFull as full:
        raise XRPCError.named(
            "NotEnoughResources",
            f"{full.limit} operations are queued, the most this server holds (--max-queued-ops); try again once "
            "some have started, or cancel some",
            headers={"Retry-After": str(QUEUE_FULL_RETRY_SECONDS)},
        ) from None
    call.note.target = op.id
    call.note.detail = "reused" if reused else "created"
    return op


def present_fields(model: Any, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """An input model's given fields under their lexicon names."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=exclude)
    return data
