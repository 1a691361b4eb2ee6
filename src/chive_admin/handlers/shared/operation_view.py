"""An operation row as the lexicons' ``backfillOperation`` object (each method's own generated copy of it)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from pydantic.alias_generators import to_camel

from chive_admin.clock import parse_stamp, utc_now
from chive_admin.lex import LexModel
from chive_admin.store.operations import Operation

M = TypeVar("M", bound=LexModel)


#: the stage in which a job counting repositories works through a known total of them at a steady rate (before it,
#: a network backfill's total still grows while discovering, and resolving moves few repositories to processed)
FETCHING_STAGE = "fetching_records"


def eta_seconds(op: Operation) -> int | None:
    """Seconds left at the rate of the current attempt: of records when the job knows their total, else of
    repositories while it fetches them; ``None`` without a total, a start or any progress yet."""
    progress = op.progress
    if op.status not in ("running", "cancelling") or op.attempt_started_at is None:
        return None
    if progress.total_records is not None:
        total, processed, base = progress.total_records, progress.records_processed, op.attempt_base
    elif progress.total_repos is not None and progress.stage == FETCHING_STAGE:
        total, processed, base = progress.total_repos, progress.processed_repos or 0, op.attempt_repo_base
    else:
        return None
    done = processed - base
    elapsed = (utc_now() - parse_stamp(op.attempt_started_at)).total_seconds()
    if done <= 0 or elapsed <= 0:
        return None
    return max(0, round((total - processed) / (done / elapsed)))


def operation_fields(op: Operation) -> dict[str, Any]:
    progress = {**asdict(op.progress), "counts": op.progress.counts or None}  # no counters of its own: absent
    fields: dict[str, Any] = {
        "id": op.id,
        "type": op.type,
        "status": op.status,
        "startedAt": op.requested_at,
        "completedAt": op.completed_at,
        "error": op.error,
        "startedBy": op.started_by,
        "params": op.params,
        "errorCode": op.error_code,
        "errorContext": op.error_context,
        "updatedAt": op.updated_at,
        "etaSeconds": eta_seconds(op),
        "attempts": op.attempts,
        # the progress counters carry the lexicon's names (recordsProcessed, totalRepos…) in snake case
        **{to_camel(name): value for name, value in progress.items()},
    }
    return {key: value for key, value in fields.items() if value is not None}


def as_view_model(model: type[M], op: Operation) -> M:
    return model.model_validate(operation_fields(op))
