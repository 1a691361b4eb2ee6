"""Index takedowns (deleteContent), and the one rule of what the index shows.

A takedown hides a record from every count, list and search document without touching its content in ``records``:
every ingest path (did-sync, pds-scan, freshness-scan, governance-sync, dead-letter retries) keeps writing the
record as the network has it, and every reader asks :func:`visible`. The row's ``taken_down`` flag mirrors this
table, set by triggers (migration 018) whenever a takedown or a record is written, so no path has to set it. So no
ingest path can bring a taken-down record back, whichever writes it and however often (a delete-and-recreate of
the same record key is the same URI), and a URI can be taken down before it is indexed. A restore deletes the row;
the audit trail keeps the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chive_admin.store.sql import Conn, any_of


def visible(alias: str = "records") -> str:
    """The SQL condition that a row of ``records`` (under ``alias``) is visible: its repository is not hidden
    (deactivated or taken down upstream) and no admin has taken the record down. Every reader that counts or lists
    records uses it, so the rule is written once."""
    # records.taken_down mirrors this table (migration 018's triggers), so the rule reads the row alone
    return f"({alias}.hidden = 0 AND {alias}.taken_down = 0)"


_COLUMNS = "uri, collection, cid, reason, taken_down_by, taken_down_at"


@dataclass(frozen=True)
class Takedown:
    uri: str
    collection: str
    cid: str | None
    reason: str | None
    taken_down_by: str
    taken_down_at: str


async def take_down(conn: Conn, uri: str, collection: str, reason: str | None, by: str, now: str) -> bool:
    """Record a takedown of ``uri`` (with the CID the index holds, if any); False when it was already taken down,
    in which case the first takedown is kept as it was."""
    row = await conn.fetchone("SELECT cid FROM records WHERE uri = ?", (uri,))
    cid = str(row[0]) if row is not None else None
    changed = await conn.execute(
        "INSERT INTO takedowns (uri, collection, cid, reason, taken_down_by, taken_down_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uri) DO NOTHING",
        (uri, collection, cid, reason, by, now),
    )
    return changed > 0


async def restore(conn: Conn, uri: str) -> Takedown | None:
    """Lift the takedown of ``uri``; the takedown that was lifted, or None when there was none."""
    found = await get(conn, uri)
    if found is not None:
        await conn.execute("DELETE FROM takedowns WHERE uri = ?", (uri,))
    return found


async def get(conn: Conn, uri: str) -> Takedown | None:
    row = await conn.fetchone(f"SELECT {_COLUMNS} FROM takedowns WHERE uri = ?", (uri,))
    return Takedown(*row) if row is not None else None


async def every(conn: Conn) -> list[Takedown]:
    """Every takedown, newest first."""
    rows = await conn.fetchall(f"SELECT {_COLUMNS} FROM takedowns ORDER BY taken_down_at DESC, uri")
    return [Takedown(*row) for row in rows]


async def taken_down(conn: Conn, uris: Sequence[str]) -> set[str]:
    """Which of ``uris`` are taken down."""
    if not uris:
        return set()
    where, args = any_of(conn.dialect, "uri", uris)
    return {str(row[0]) for row in await conn.fetchall(f"SELECT uri FROM takedowns WHERE {where}", args)}
