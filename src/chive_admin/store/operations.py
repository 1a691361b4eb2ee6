"""Backfill operations: rows, lifecycle transitions and queries.

Every transition is one conditional UPDATE (``… WHERE status = …``, and ``lease_owner = …`` for a worker's writes),
so a lost race shows up as "no row changed" and is reported, never silently overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

from chive_admin.store.sql import Conn, Dialect, Row, any_of, fetch_int

#: the channel a trigger NOTIFYs on PostgreSQL; every process LISTENs on it (``postgres_db``)
WORK_CHANNEL = "chive_admin_work"
#: pg_advisory_xact_lock key that serialises triggers over every process
_TRIGGER_LOCK = 0x6F707321

ACTIVE = ("queued", "running", "cancelling")
#: statuses whose (type, params) a new trigger reuses instead of starting a second op
REUSABLE = ("queued", "running")
ENDED = ("completed", "partial", "failed", "cancelled")
STATUSES = (*ACTIVE, *ENDED)


class QueueFull(Exception):
    """``limit`` operations are queued already: a new one is refused (none is dropped to make room)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} operations are queued")
        self.limit = limit


@dataclass
class Progress:
    """How far a job has come: the counters it reports, each its own column of the operations table.

    The one declaration of them: the store's columns, the job context's snapshot and the views derive from it.
    When saved, ``None`` (and empty ``counts``) leaves a column as it is.
    """

    stage: str | None = None
    records_processed: int = 0
    total_records: int | None = None
    total_repos: int | None = None
    processed_repos: int | None = None
    records_failed: int = 0
    #: the job type's own counters (e.g. updated/deleted)
    counts: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Progress:
        return replace(self, counts=dict(self.counts))


@dataclass(frozen=True)
class Operation:
    id: str
    type: str
    status: str
    params: dict[str, Any]
    started_by: str | None
    requested_at: str
    started_at: str | None
    updated_at: str
    completed_at: str | None
    progress: Progress
    #: the job's position as stored (JSON); its job type reads it with its checkpoint model
    checkpoint: Any
    error: str | None
    error_code: str | None
    error_context: dict[str, Any] | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: str | None
    attempt_started_at: str | None
    #: records and repositories processed when the current attempt began (the ETA's rate is this attempt's)
    attempt_base: int
    attempt_repo_base: int

    @property
    def ended(self) -> bool:
        return self.status in ENDED


_PROGRESS_COLUMNS = tuple(f.name for f in fields(Progress))
#: every column an ``Operation`` is read from: its own fields, then its progress's
_NAMES = (*(f.name for f in fields(Operation) if f.name != "progress"), *_PROGRESS_COLUMNS)
_COLUMNS = ", ".join(_NAMES)
_JSON_COLUMNS = ("params", "counts", "checkpoint", "error_context")


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _row(row: Row) -> Operation:
    values = dict(zip(_NAMES, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = _loads(values[name])
    values["counts"] = values["counts"] or {}
    progress = Progress(**{name: values.pop(name) for name in _PROGRESS_COLUMNS})
    return Operation(**values, progress=progress)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_hash(op_type: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(f"{op_type}\n{canonical_json(params)}".encode()).hexdigest()


async def active_among(conn: Conn, op_type: str, params: Sequence[dict[str, Any]]) -> list[int]:
    """Which of ``params`` (by position) an op of ``op_type`` is queued or running with."""
    if not params:
        return []
    hashes = {params_hash(op_type, p): i for i, p in enumerate(params)}
    where, args = any_of(conn.dialect, "params_hash", list(hashes))
    rows = await conn.fetchall(
        f"SELECT params_hash FROM operations WHERE type = ? AND status IN ('queued', 'running') AND {where}",
        (op_type, *args),
    )
    return sorted(hashes[str(row[0])] for row in rows)


async def _one(conn: Conn, sql: str, args: Sequence[Any]) -> Operation | None:
    row = await conn.fetchone(sql, args)
    return _row(row) if row is not None else None


async def _many(conn: Conn, sql: str, args: Sequence[Any]) -> list[Operation]:
    return [_row(row) for row in await conn.fetchall(sql, args)]


async def get(conn: Conn, op_id: str) -> Operation | None:
    return await _one(conn, f"SELECT {_COLUMNS} FROM operations WHERE id = ?", (op_id,))


async def insert_or_reuse(
    conn: Conn,
    *,
    op_id: str,
    op_type: str,
    params: dict[str, Any],
    started_by: str | None,
    now: str,
    max_queued: int,
) -> tuple[Operation, bool]:
    """The active op of this type and params, or a new queued one; ``True`` when an existing op was reused.
    ``QueueFull`` when a new op is needed and ``max_queued`` ops are queued already.

    Run inside ``db.write()``: BEGIN IMMEDIATE serialises concurrent triggers, so the lookup, the count and the
    insert see the same state (no two triggers can both take the last place); the partial unique index
    ``operations_one_active`` backs the lookup up.
    """
    digest = params_hash(op_type, params)
    if conn.dialect is Dialect.POSTGRES:
        # other processes trigger too: one at a time, so the lookup and the queue count hold until the insert
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_TRIGGER_LOCK,))
    existing = await _one(
        conn,
        f"SELECT {_COLUMNS} FROM operations WHERE type = ? AND params_hash = ? AND status IN ('queued', 'running')",
        (op_type, digest),
    )
    if existing is not None:
        return existing, True
    if await fetch_int(conn, "SELECT count(*) FROM operations WHERE status = 'queued'") >= max_queued:
        raise QueueFull(max_queued)
    await conn.execute(
        "INSERT INTO operations (id, type, status, params, params_hash, started_by, requested_at, updated_at)"
        " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
        (op_id, op_type, canonical_json(params), digest, started_by, now, now),
    )
    await announce_work(conn)
    created = await get(conn, op_id)
    assert created is not None
    return created, False


async def announce_work(conn: Conn) -> None:
    """Wake idle workers of every process (PostgreSQL's NOTIFY, sent when the transaction commits). On SQLite the
    one process that triggers is the one that works, and its engine wakes its own workers."""
    if conn.dialect is Dialect.POSTGRES:
        await conn.execute("SELECT pg_notify(?, '')", (WORK_CHANNEL,))


async def list_active(conn: Conn, limit: int) -> list[Operation]:
    return await _many(
        conn,
        f"SELECT {_COLUMNS} FROM operations WHERE status IN ('queued', 'running', 'cancelling')"
        " ORDER BY requested_at, id LIMIT ?",
        (limit,),
    )


def _in_claim_order(kinds: list[str]) -> str:
    """WHERE and ORDER BY of the queued ops of ``kinds`` (one ``?`` each), in the order workers claim them."""
    return f"status = 'queued' AND type IN ({', '.join('?' for _ in kinds)}) ORDER BY requested_at, id"


async def next_queued(conn: Conn, *, types: Iterable[str], limit: int) -> list[Operation]:
    """The queued ops of ``types`` that workers will claim next, in the order they claim them (``claim_next``)."""
    kinds = list(types)
    if not kinds:
        return []
    return await _many(
        conn, f"SELECT {_COLUMNS} FROM operations WHERE {_in_claim_order(kinds)} LIMIT ?", (*kinds, limit)
    )


async def list_by_status(conn: Conn, status: str, limit: int) -> list[Operation]:
    order = "DESC" if status in ENDED else "ASC"
    return await _many(
        conn,
        f"SELECT {_COLUMNS} FROM operations WHERE status = ? ORDER BY requested_at {order}, id {order} LIMIT ?",
        (status, limit),
    )


async def history(conn: Conn, limit: int) -> list[Operation]:
    """Ended ops, newest end first."""
    return await _many(
        conn,
        f"SELECT {_COLUMNS} FROM operations WHERE completed_at IS NOT NULL ORDER BY completed_at DESC, id DESC LIMIT ?",
        (limit,),
    )


async def claim_next(conn: Conn, *, types: Iterable[str], owner: str, lease_until: str, now: str) -> Operation | None:
    """Move the oldest queued op of a runnable type to ``running`` under ``owner``'s lease, or ``None``."""
    kinds = list(types)
    if not kinds:
        return None
    # PostgreSQL: a row another process is claiming right now is skipped, not waited for (SQLite has one writer)
    skip_locked = " FOR UPDATE SKIP LOCKED" if conn.dialect is Dialect.POSTGRES else ""
    return await _one(
        conn,
        "UPDATE operations SET status = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?,"
        " started_at = coalesce(started_at, ?), updated_at = ?, attempt_started_at = ?,"
        " attempt_base = records_processed, attempt_repo_base = coalesce(processed_repos, 0),"
        " error = NULL, error_code = NULL, error_context = NULL"
        f" WHERE id = (SELECT id FROM operations WHERE {_in_claim_order(kinds)} LIMIT 1{skip_locked})"
        " AND status = 'queued'"
        f" RETURNING {_COLUMNS}",
        (owner, lease_until, now, now, now, *kinds),
    )


async def heartbeat(conn: Conn, op_id: str, owner: str, lease_until: str) -> str | None:
    """Extend ``owner``'s lease; the op's status (``cancelling`` once a cancel was requested, on any process), or
    ``None`` if the lease is lost."""
    row = await conn.fetchone(
        "UPDATE operations SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?"
        " AND status IN ('running', 'cancelling') RETURNING status",
        (lease_until, op_id, owner),
    )
    return str(row[0]) if row else None


_UNCHANGED = object()


async def save_progress(
    conn: Conn,
    op_id: str,
    owner: str,
    progress: Progress,
    now: str,
    checkpoint: Any = _UNCHANGED,
) -> str | None:
    """Write counters (and the checkpoint) if ``owner`` still holds the lease; the op's status, or ``None`` if lost.

    The returned status is read in the same statement, so a cancel request is seen by the batch that commits
    right after it.
    """
    sets = ["updated_at = ?"]
    args: list[Any] = [now]
    for column in _PROGRESS_COLUMNS:
        value = getattr(progress, column)
        if value is None or value == {}:  # not known yet, or no counters of its own: the column keeps its value
            continue
        sets.append(f"{column} = ?")
        args.append(canonical_json(value) if column == "counts" else value)
    if checkpoint is not _UNCHANGED:
        sets.append("checkpoint = ?")
        args.append(None if checkpoint is None else canonical_json(checkpoint))
    row = await conn.fetchone(
        f"UPDATE operations SET {', '.join(sets)} WHERE id = ? AND lease_owner = ?"
        " AND status IN ('running', 'cancelling') RETURNING status",
        (*args, op_id, owner),
    )
    return str(row[0]) if row else None


class Outcome(Enum):
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


async def finish(
    conn: Conn,
    op_id: str,
    owner: str,
    outcome: Outcome,
    now: str,
    *,
    error: str | None = None,
    error_code: str | None = None,
    error_context: dict[str, Any] | None = None,
) -> bool:
    """End an op the worker holds; a job that ran to its end after a cancel request still ends ``cancelled``."""
    changed = await conn.execute(
        "UPDATE operations SET"
        " status = CASE WHEN status = 'cancelling' AND ? != 'failed' THEN 'cancelled' ELSE ? END,"
        " completed_at = ?, updated_at = ?, error = ?, error_code = ?, error_context = ?,"
        " lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = ? AND lease_owner = ? AND status IN ('running', 'cancelling')",
        (
            outcome.value,
            outcome.value,
            now,
            now,
            error,
            error_code,
            None if error_context is None else canonical_json(error_context),
            op_id,
            owner,
        ),
    )
    return changed == 1


async def release(
    conn: Conn,
    op_id: str,
    owner: str,
    now: str,
    *,
    error: str | None = None,
    error_code: str | None = None,
) -> bool:
    """Give a running op back to the queue (graceful shutdown, or a transient stop whose reason ``error`` shows until
    the op is claimed again); a cancelling one ends ``cancelled`` instead."""
    changed = await conn.execute(
        "UPDATE operations SET"
        " status = CASE status WHEN 'cancelling' THEN 'cancelled' ELSE 'queued' END,"
        " completed_at = CASE status WHEN 'cancelling' THEN ? ELSE NULL END,"
        " error = ?, error_code = ?,"
        " updated_at = ?, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = ? AND lease_owner = ? AND status IN ('running', 'cancelling')",
        (now, error, error_code, now, op_id, owner),
    )
    if changed:
        await announce_work(conn)
    return changed == 1


class CancelResult(Enum):
    CANCELLED = "cancelled"  # it was queued: nothing ran, it ended at once
    REQUESTED = "requested"  # it is running: it stops at its next checkpoint
    ALREADY_REQUESTED = "already_requested"
    ENDED = "ended"
    NOT_FOUND = "not_found"


async def request_cancel(conn: Conn, op_id: str, now: str) -> tuple[CancelResult, Operation | None]:
    changed = await conn.execute(
        "UPDATE operations SET status = 'cancelled', completed_at = ?, updated_at = ?"
        " WHERE id = ? AND status = 'queued'",
        (now, now, op_id),
    )
    if changed == 1:
        return CancelResult.CANCELLED, await get(conn, op_id)
    changed = await conn.execute(
        "UPDATE operations SET status = 'cancelling', updated_at = ? WHERE id = ? AND status = 'running'",
        (now, op_id),
    )
    if changed == 1:
        return CancelResult.REQUESTED, await get(conn, op_id)
    op = await get(conn, op_id)
    if op is None:
        return CancelResult.NOT_FOUND, None
    if op.status == "cancelling":
        return CancelResult.ALREADY_REQUESTED, op
    return CancelResult.ENDED, op


async def requeue_orphans(conn: Conn, now: str) -> tuple[int, int]:
    """At start-up, in the process that owns the database: every op left running by a previous process goes back
    to the queue at once (its checkpoint intact) and every op left cancelling ends ``cancelled``.

    Returns (requeued, cancelled).
    """
    changed = await conn.execute(
        "UPDATE operations SET status = 'cancelled', completed_at = ?, updated_at = ?, lease_owner = NULL,"
        " lease_expires_at = NULL WHERE status = 'cancelling'",
        (now, now),
    )
    cancelled = changed
    changed = await conn.execute(
        "UPDATE operations SET status = 'queued', updated_at = ?, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE status = 'running'",
        (now,),
    )
    return changed, cancelled


async def requeue_expired(conn: Conn, now: str) -> tuple[int, int]:
    """Ops whose lease ran out (a stuck worker, or a process that died) go back to the queue, from their
    checkpoint; a cancel request left by a dead worker completes. Returns (requeued, cancelled)."""
    cancelled = await conn.execute(
        "UPDATE operations SET status = 'cancelled', completed_at = ?, updated_at = ?, lease_owner = NULL,"
        " lease_expires_at = NULL WHERE status = 'cancelling' AND lease_expires_at < ?",
        (now, now, now),
    )
    requeued = await conn.execute(
        "UPDATE operations SET status = 'queued', updated_at = ?, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE status = 'running' AND lease_expires_at < ?",
        (now, now),
    )
    if requeued:
        await announce_work(conn)
    return requeued, cancelled


async def fail_exhausted(conn: Conn, max_attempts: int, now: str) -> list[str]:
    """Queued ops that already used every attempt end ``failed`` instead of being started again."""
    rows = await conn.fetchall(
        "UPDATE operations SET status = 'failed', completed_at = ?, updated_at = ?, error_code = 'too_many_attempts',"
        " error = 'the operation was interrupted ' || attempts || ' times without finishing'"
        " WHERE status = 'queued' AND attempts >= ? RETURNING id",
        (now, now, max_attempts),
    )
    return [str(row[0]) for row in rows]


async def prune_ended(conn: Conn, before: str) -> int:
    changed = await conn.execute(
        "DELETE FROM operations WHERE completed_at IS NOT NULL AND completed_at < ?", (before,)
    )
    return changed


async def counts_by_type_and_status(conn: Conn) -> list[tuple[str, str, int]]:
    """How many operations of each type are in each status (for the metrics' gauges)."""
    rows = await conn.fetchall("SELECT type, status, count(*) FROM operations GROUP BY type, status")
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
