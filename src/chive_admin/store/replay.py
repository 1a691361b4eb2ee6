"""The service-auth ``jti`` set that several processes share (``auth.replay.SharedReplayCache``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from chive_admin.store.sql import Conn


class Use(Enum):
    FIRST = "first"
    REPLAYED = "replayed"
    ISSUER_FULL = "issuer_full"
    FULL = "full"


@dataclass(frozen=True)
class Remembered:
    use: Use
    #: when the bound was reached: epoch seconds at which the soonest entry that counts against it expires
    soonest_expiry: float | None = None


async def remember(
    conn: Conn, issuer: str, jti: str, expires_at: float, now: float, *, max_entries: int, max_per_issuer: int
) -> Remembered:
    """Keep ``jti`` of ``issuer`` until ``expires_at`` unless it is known already or a bound is reached; expired
    entries are dropped first. Run in a write transaction: a second process inserting the same jti waits for this
    one's commit and then finds it (the primary key), so exactly one of them sees ``FIRST``."""
    await conn.execute("DELETE FROM service_auth_jtis WHERE expires_at <= ?", (now,))
    if await conn.fetchone("SELECT 1 FROM service_auth_jtis WHERE issuer = ? AND jti = ?", (issuer, jti)):
        return Remembered(Use.REPLAYED)
    row = await conn.fetchone(
        "SELECT sum(CASE WHEN issuer = ? THEN 1 ELSE 0 END), min(CASE WHEN issuer = ? THEN expires_at END),"
        " count(*), min(expires_at) FROM service_auth_jtis",
        (issuer, issuer),
    )
    assert row is not None, "an aggregate answers one row"
    if int(row[0] or 0) >= max_per_issuer:
        return Remembered(Use.ISSUER_FULL, float(row[1]))
    if int(row[2]) >= max_entries:
        return Remembered(Use.FULL, float(row[3]))
    inserted = await conn.execute(
        "INSERT INTO service_auth_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (issuer, jti, expires_at),
    )
    return Remembered(Use.FIRST if inserted else Use.REPLAYED)
