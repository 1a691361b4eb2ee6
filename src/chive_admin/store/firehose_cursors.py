"""The subscription cursors of the live indexer: per source, the last sequence whose effects are committed.

Written only inside the transaction that commits a batch's records and repository heads (see
:mod:`chive_admin.live.indexer`), so the cursor never runs ahead of the index.
"""

from __future__ import annotations

from chive_admin.store.sql import Conn


async def get(conn: Conn, source: str) -> int | None:
    row = await conn.fetchone("SELECT seq FROM firehose_cursors WHERE source = ?", (source,))
    return int(row[0]) if row else None


async def lowest(conn: Conn) -> int | None:
    """The lowest cursor over every source (getFirehoseStatus's one ``cursor``); ``None`` before any commit."""
    row = await conn.fetchone("SELECT min(seq) FROM firehose_cursors")
    return int(row[0]) if row and row[0] is not None else None


async def lowest_of_pdses(conn: Conn) -> int | None:
    """The lowest cursor over the PDS sources (the hosts of the registry), a relay's left out; ``None`` before any
    of them commits."""
    row = await conn.fetchone("SELECT min(seq) FROM firehose_cursors WHERE source IN (SELECT url FROM pdses)")
    return int(row[0]) if row and row[0] is not None else None


async def advance(conn: Conn, source: str, seq: int, now: str) -> None:
    """Set the cursor to ``seq``; it never moves back here (a reset is :func:`clear`)."""
    await conn.execute(
        "INSERT INTO firehose_cursors (source, seq, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at"
        " WHERE excluded.seq > firehose_cursors.seq",
        (source, seq, now),
    )


async def clear(conn: Conn, source: str) -> None:
    """Forget the cursor: the next connection starts at the source's head (after ``FutureCursor``)."""
    await conn.execute("DELETE FROM firehose_cursors WHERE source = ?", (source,))
