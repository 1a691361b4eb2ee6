"""An operation row as the lexicons' backfillOperation: wire names, absent values left out, and an ETA at the rate of
the current attempt while it runs."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from chive_admin._generated.models.pub.chive.admin import get_backfill_history, get_backfill_status
from chive_admin.clock import stamp, utc_now
from chive_admin.handlers.shared.operation_view import as_view_model, eta_seconds, operation_fields
from chive_admin.store.operations import Operation, Progress

T0 = "2026-01-01T00:00:00.000000Z"


def operation(**changes: Any) -> Operation:
    queued = Operation(
        id="01OP",
        type="did-sync",
        status="queued",
        progress=Progress(),
        params={"did": "did:plc:abcdefghijklmnopqrstuvwx"},
        started_by="did:plc:admin",
        requested_at=T0,
        started_at=None,
        updated_at=T0,
        completed_at=None,
        checkpoint=None,
        error=None,
        error_code=None,
        error_context=None,
        attempts=0,
        lease_owner=None,
        lease_expires_at=None,
        attempt_started_at=None,
        attempt_base=0,
        attempt_repo_base=0,
    )
    return changed(queued, **changes)


PROGRESS = {f.name for f in dataclasses.fields(Progress)}


def changed(op: Operation, **changes: Any) -> Operation:
    """``op`` with ``changes``, each to the operation or to its progress, wherever the field lives."""
    progress = dataclasses.replace(op.progress, **{k: v for k, v in changes.items() if k in PROGRESS})
    return dataclasses.replace(op, progress=progress, **{k: v for k, v in changes.items() if k not in PROGRESS})


def ago(seconds: float) -> str:
    return stamp(utc_now() - timedelta(seconds=seconds))


def test_a_queued_op_shows_what_it_has() -> None:
    assert operation_fields(operation()) == {
        "id": "01OP",
        "type": "did-sync",
        "status": "queued",
        "startedAt": T0,  # when it was asked for: the lexicon's startedAt is required from the first moment
        "recordsProcessed": 0,
        "startedBy": "did:plc:admin",
        "params": {"did": "did:plc:abcdefghijklmnopqrstuvwx"},
        "recordsFailed": 0,
        "updatedAt": T0,
        "attempts": 0,
    }


def test_an_ended_op_shows_its_outcome_and_counts() -> None:
    failed = operation(
        status="failed",
        completed_at=T0,
        error="cannot fetch",
        error_code="repo_fetch_failed",
        error_context={"status": 502},
        counts={"inserted": 3},
        stage="fetching_repo",
        total_repos=1,
        processed_repos=0,
    )
    fields = operation_fields(failed)
    assert {k: fields[k] for k in ("completedAt", "error", "errorCode", "errorContext", "counts", "stage")} == {
        "completedAt": T0,
        "error": "cannot fetch",
        "errorCode": "repo_fetch_failed",
        "errorContext": {"status": 502},
        "counts": {"inserted": 3},
        "stage": "fetching_repo",
    }
    assert (fields["totalRepos"], fields["processedRepos"]) == (1, 0)
    assert "etaSeconds" not in fields
    assert "counts" not in operation_fields(operation(counts={}))  # no counts yet: absent, not empty


def test_the_eta_is_at_the_rate_of_the_current_attempt() -> None:
    # 500 records in this attempt (the 100 before it came from an earlier one), in 1000 s: 400 left take 800 s
    running = operation(
        status="running", total_records=1000, records_processed=600, attempt_base=100, attempt_started_at=ago(1000)
    )
    assert eta_seconds(running) == 800
    assert operation_fields(running)["etaSeconds"] == 800
    assert eta_seconds(changed(running, status="cancelling")) == 800


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "completed"},
        {"total_records": None},
        {"attempt_started_at": None},
        {"records_processed": 100},  # nothing done in this attempt yet
    ],
)
def test_no_eta_without_a_total_a_start_or_progress(changes: dict[str, Any]) -> None:
    running = operation(
        status="running", total_records=1000, records_processed=600, attempt_base=100, attempt_started_at=ago(10)
    )
    assert eta_seconds(changed(running, **changes)) is None


def test_without_a_record_total_the_eta_counts_repositories_while_they_are_fetched() -> None:
    # 300 repositories fetched in this attempt (200 before it), in 600 s: 500 left take 1000 s
    fetching = operation(
        status="running",
        stage="fetching_records",
        total_repos=1000,
        processed_repos=500,
        attempt_repo_base=200,
        attempt_started_at=ago(600),
    )
    assert eta_seconds(fetching) == 1000
    # while discovering (the total still grows) or resolving (few repositories finish there): no estimate
    assert eta_seconds(changed(fetching, stage="discovering_repos")) is None
    assert eta_seconds(changed(fetching, stage="resolving_pds")) is None


def test_the_eta_is_never_negative() -> None:
    over = operation(status="running", total_records=10, records_processed=20, attempt_started_at=ago(10))
    assert eta_seconds(over) == 0


def test_each_method_gets_its_own_generated_model() -> None:
    op = operation(status="running", stage="fetching_repo", attempts=1)
    status_view = as_view_model(get_backfill_status.BackfillOperation, op)
    history_view = as_view_model(get_backfill_history.BackfillOperation, op)
    assert isinstance(status_view, get_backfill_status.BackfillOperation)
    assert isinstance(history_view, get_backfill_history.BackfillOperation)
    assert status_view.to_wire() == history_view.to_wire() == operation_fields(op)
