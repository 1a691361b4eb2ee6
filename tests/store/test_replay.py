"""The shared jti set: first use, replays, expiry and its bounds, the same on both backends."""

from __future__ import annotations

from chive_admin.store import replay
from chive_admin.store.db import Database
from chive_admin.store.replay import Use


async def remember(db: Database, issuer: str, jti: str, expires_at: float, now: float) -> replay.Remembered:
    async with db.write() as conn:
        return await replay.remember(conn, issuer, jti, expires_at, now, max_entries=3, max_per_issuer=2)


async def test_a_jti_is_used_once_until_it_expires(db: Database) -> None:
    assert (await remember(db, "did:a", "j1", 100.0, 10.0)).use is Use.FIRST
    assert (await remember(db, "did:a", "j1", 100.0, 20.0)).use is Use.REPLAYED
    assert (await remember(db, "did:b", "j1", 100.0, 20.0)).use is Use.FIRST  # another issuer's jti is its own
    assert (await remember(db, "did:a", "j1", 200.0, 100.0)).use is Use.FIRST  # expired, so forgotten


async def test_the_bounds_refuse_a_new_token_and_name_the_soonest_expiry(db: Database) -> None:
    assert (await remember(db, "did:a", "j1", 50.0, 0.0)).use is Use.FIRST
    assert (await remember(db, "did:a", "j2", 60.0, 0.0)).use is Use.FIRST
    full = await remember(db, "did:a", "j3", 70.0, 0.0)
    assert (full.use, full.soonest_expiry) == (Use.ISSUER_FULL, 50.0)
    assert (await remember(db, "did:b", "j1", 40.0, 0.0)).use is Use.FIRST
    everyone = await remember(db, "did:c", "j1", 70.0, 0.0)
    assert (everyone.use, everyone.soonest_expiry) == (Use.FULL, 40.0)
    assert (await remember(db, "did:c", "j1", 70.0, 45.0)).use is Use.FIRST  # did:b's token expired: room again
