"""Who consumes each firehose source, when processes share the database (PostgreSQL).

A lease row per source names its holder and how long it holds without renewal. :func:`acquire` takes a free or
expired lease (or renews one's own); :func:`hold` renews it only if it is still the caller's and unexpired, and runs
inside the transaction of every batch the holder commits, so a holder that lost its lease (stalled past it, cut off
from the database) has that batch rolled back instead of writing beside the new holder. Times are the store's
stamps (``clock.stamp``), compared as text, as the operations' leases are.
"""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.store.sql import Conn


@dataclass(frozen=True)
class Lease:
    source: str
    holder: str
    lease_until: str
    acquired_at: str


async def acquire(conn: Conn, source: str, holder: str, *, until: str, now: str) -> bool:
    """Take ``source`` for ``holder`` until ``until`` if nobody holds it, its lease ran out, or it is ``holder``'s."""
    taken = await conn.execute(
        "INSERT INTO firehose_leases (source, holder, lease_until, acquired_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until,"
        "   acquired_at = CASE WHEN firehose_leases.holder = excluded.holder THEN firehose_leases.acquired_at"
        "     ELSE excluded.acquired_at END"
        " WHERE firehose_leases.holder = excluded.holder OR firehose_leases.lease_until <= ?",
        (source, holder, until, now, now),
    )
    return taken == 1


async def hold(conn: Conn, source: str, holder: str, *, until: str, now: str) -> bool:
    """Renew ``holder``'s unexpired lease of ``source``; ``False`` when it is no longer theirs (nothing changes).
    On PostgreSQL the row stays locked to the end of the caller's transaction: nobody takes it meanwhile."""
    renewed = await conn.execute(
        "UPDATE firehose_leases SET lease_until = ? WHERE source = ? AND holder = ? AND lease_until > ?",
        (until, source, holder, now),
    )
    return renewed == 1


async def release(conn: Conn, source: str, holder: str) -> None:
    """Give ``source`` up at once (a clean stop): another process need not wait for the lease to run out."""
    await conn.execute("DELETE FROM firehose_leases WHERE source = ? AND holder = ?", (source, holder))


async def get(conn: Conn, source: str) -> Lease | None:
    row = await conn.fetchone(
        "SELECT source, holder, lease_until, acquired_at FROM firehose_leases WHERE source = ?", (source,)
    )
    return Lease(str(row[0]), str(row[1]), str(row[2]), str(row[3])) if row else None
