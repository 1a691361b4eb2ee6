"""An operation row as the lexicons' ``backfillOperation`` object (each method's own generated copy of it)."""

from __future__ import annotations

from typing import Any, TypeVar

from chive_admin.clock import parse_stamp, utc_now
from chive_admin.lex import LexModel
from chive_admin.store.operations import Operation

M = TypeVar("M", bound=LexModel)


def eta_seconds(op: Operation) -> int | None:
    """Seconds left at the rate of the current attempt; ``None`` without a total, a start or any progress yet."""
    if op.status not in ("running", "cancelling") or op.total_records is None or op.attempt_started_at is None:
        return None
    done = op.records_processed - op.attempt_base
    elapsed = (utc_now() - parse_stamp(op.attempt_started_at)).total_seconds()
    if done <= 0 or elapsed <= 0:
        return None
    return max(0, round((op.total_records - op.records_processed) / (done / elapsed)))


def operation_fields(op: Operation) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": op.id,
        "type": op.type,
        "status": op.status,
        "startedAt": op.requested_at,
        "completedAt": op.completed_at,
        "recordsProcessed": op.records_processed,
        "totalRecords": op.total_records,
        "error": op.error,
        "startedBy": op.started_by,
        "stage": op.stage,
        "params": op.params,
        "totalRepos": op.total_repos,
        "processedRepos": op.processed_repos,
        "recordsFailed": op.records_failed,
        "errorCode": op.error_code,
        "errorContext": op.error_context,
        "updatedAt": op.updated_at,
        "etaSeconds": eta_seconds(op),
        "attempts": op.attempts,
        "counts": op.counts or None,
    }
    return {key: value for key, value in fields.items() if value is not None}


def as_view_model(model: type[M], op: Operation) -> M:
    return model.model_validate(operation_fields(op))
