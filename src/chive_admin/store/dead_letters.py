"""The dead-letter queue: items a job could not process, kept to be retried or dismissed one by one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chive_admin.store.operations import canonical_json
from chive_admin.store.sql import Conn, Row


@dataclass(frozen=True)
class DeadLetter:
    id: int
    operation_id: str | None
    job_type: str
    error_type: str
    message: str
    context: dict[str, Any]
    item: Any
    created_at: str
    retry_count: int
    last_retry_at: str | None


_COLUMNS = "id, operation_id, job_type, error_type, message, context, item, created_at, retry_count, last_retry_at"


def _row(row: Row) -> DeadLetter:
    values = list(row)
    values[5] = json.loads(values[5])
    values[6] = json.loads(values[6])
    return DeadLetter(*values)


async def add(
    conn: Conn,
    *,
    operation_id: str | None,
    job_type: str,
    error_type: str,
    message: str,
    context: dict[str, Any],
    item: Any,
    now: str,
) -> int:
    """Queue a failed item; the same item failing the same way again refreshes its entry (message, context, op)."""
    row = await conn.fetchone(
        "INSERT INTO dead_letters (operation_id, job_type, error_type, message, context, item, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (job_type, error_type, item) DO UPDATE SET"
        "   operation_id = excluded.operation_id, message = excluded.message, context = excluded.context"
        " RETURNING id",
        (operation_id, job_type, error_type, message, canonical_json(context), canonical_json(item), now),
    )
    assert row is not None
    return int(row[0])


async def page(conn: Conn, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
    sql = f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id LIMIT ? OFFSET ?"
    rows = await conn.fetchall(sql, (limit, offset))
    entries = [_row(row) for row in rows]
    return entries, await count(conn)


async def count(conn: Conn, error_type: str | None = None) -> int:
    sql, args = "SELECT count(*) FROM dead_letters", tuple[str, ...]()
    if error_type is not None:
        sql, args = sql + " WHERE error_type = ?", (error_type,)
    row = await conn.fetchone(sql, args)
    return int(row[0]) if row else 0


async def at_index(conn: Conn, index: int) -> DeadLetter | None:
    """The entry at zero-based position ``index`` in queue order (the order ``page`` lists)."""
    if index < 0:
        return None
    row = await conn.fetchone(f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id LIMIT 1 OFFSET ?", (index,))
    return _row(row) if row else None


async def get(conn: Conn, entry_id: int) -> DeadLetter | None:
    row = await conn.fetchone(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (entry_id,))
    return _row(row) if row else None


async def ids(conn: Conn, error_type: str | None = None) -> list[int]:
    sql, args = "SELECT id FROM dead_letters", tuple[str, ...]()
    if error_type is not None:
        sql, args = sql + " WHERE error_type = ?", (error_type,)
    rows = await conn.fetchall(sql + " ORDER BY id", args)
    return [int(row[0]) for row in rows]


async def remove(conn: Conn, entry_id: int) -> bool:
    changed = await conn.execute("DELETE FROM dead_letters WHERE id = ?", (entry_id,))
    return changed == 1


async def retried_and_failed(conn: Conn, entry_id: int, message: str, now: str) -> None:
    await conn.execute(
        "UPDATE dead_letters SET retry_count = retry_count + 1, last_retry_at = ?, message = ? WHERE id = ?",
        (now, message, entry_id),
    )


async def purge_older(conn: Conn, before: str) -> int:
    changed = await conn.execute("DELETE FROM dead_letters WHERE created_at < ?", (before,))
    return changed
