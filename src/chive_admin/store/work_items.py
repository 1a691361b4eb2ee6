"""The work list of an operation: items with a state and a JSON position, committed with the job's batches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chive_admin.store.operations import canonical_json
from chive_admin.store.sql import Conn

STATES = ("pending", "done", "failed", "skipped")
#: rows in one multi-row INSERT (three bound values each)
_CHUNK = 300


async def add(conn: Conn, op_id: str, items: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Add pending items; an item already listed keeps its state (a re-read page after a resume adds nothing)."""
    rows = [(op_id, item, canonical_json(info)) for item, info in items]
    added = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = ", ".join("(?, ?, ?)" for _ in chunk)
        added += len(
            await conn.fetchall(
                f"INSERT INTO operation_items (operation_id, item, info) VALUES {values}"
                " ON CONFLICT DO NOTHING RETURNING item",
                [value for row in chunk for value in row],
            )
        )
    return added


async def with_state(conn: Conn, op_id: str, state: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await conn.fetchall(
        "SELECT item, info FROM operation_items WHERE operation_id = ? AND state = ? ORDER BY item", (op_id, state)
    )
    return [(str(row[0]), json.loads(row[1])) for row in rows]


async def page(conn: Conn, op_id: str, state: str, *, after: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` items in ``state`` past ``after``, in item order: a work list of any length, a page at a
    time (a seek on the primary key, as cheap a million items in as on the first page)."""
    rows = await conn.fetchall(
        "SELECT item, info FROM operation_items WHERE operation_id = ? AND item > ? AND state = ?"
        " ORDER BY item LIMIT ?",
        (op_id, after, state, limit),
    )
    return [(str(row[0]), json.loads(row[1])) for row in rows]


async def update(conn: Conn, op_id: str, item: str, *, state: str, info: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE operation_items SET state = ?, info = ? WHERE operation_id = ? AND item = ?",
        (state, canonical_json(info), op_id, item),
    )


async def counts(conn: Conn, op_id: str) -> dict[str, int]:
    rows = await conn.fetchall(
        "SELECT state, count(*) FROM operation_items WHERE operation_id = ? GROUP BY state", (op_id,)
    )
    found = {str(row[0]): int(row[1]) for row in rows}
    return {state: found.get(state, 0) for state in STATES}
