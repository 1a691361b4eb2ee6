"""The work list of an operation: items with a state and a JSON position, committed with the job's batches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aiosqlite

from chive_admin.store.operations import canonical_json

STATES = ("pending", "done", "failed", "skipped")


async def add(conn: aiosqlite.Connection, op_id: str, items: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Add pending items; an item already listed keeps its state (a re-read page after a resume adds nothing)."""
    before = conn.total_changes
    await conn.executemany(
        "INSERT INTO operation_items (operation_id, item, info) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(op_id, item, canonical_json(info)) for item, info in items],
    )
    return conn.total_changes - before


async def with_state(conn: aiosqlite.Connection, op_id: str, state: str) -> list[tuple[str, dict[str, Any]]]:
    async with conn.execute(
        "SELECT item, info FROM operation_items WHERE operation_id = ? AND state = ? ORDER BY item", (op_id, state)
    ) as cur:
        return [(str(row[0]), json.loads(row[1])) async for row in cur]


async def update(conn: aiosqlite.Connection, op_id: str, item: str, *, state: str, info: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE operation_items SET state = ?, info = ? WHERE operation_id = ? AND item = ?",
        (state, canonical_json(info), op_id, item),
    )


async def counts(conn: aiosqlite.Connection, op_id: str) -> dict[str, int]:
    async with conn.execute(
        "SELECT state, count(*) FROM operation_items WHERE operation_id = ? GROUP BY state", (op_id,)
    ) as cur:
        found = {str(row[0]): int(row[1]) async for row in cur}
    return {state: found.get(state, 0) for state in STATES}
