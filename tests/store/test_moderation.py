"""The local moderation record: warnings (active until expired or revoked) and violations (listed once resolved
too), newest first, with the total under the same filter and the handle of an indexed repository."""

from __future__ import annotations

import pytest

from chive_admin.clock import now_stamp, stamp_in
from chive_admin.store import index
from chive_admin.store import moderation as mod
from chive_admin.store.db import Database

ALICE = "did:plc:alice00000000000000000000"
BOB = "did:plc:bob0000000000000000000000"
MOD = "did:plc:moderator000000000000000000"


async def test_warnings_active_by_default_newest_first(db: Database) -> None:
    now = now_stamp()
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, now, handle="alice.test", pds_url="http://127.0.0.1:1", synced=True)
        first = await mod.add_warning(conn, did=ALICE, reason="spam", issued_by=MOD, now=now)
        lapsed = await mod.add_warning(conn, did=ALICE, reason="old", issued_by=MOD, now=now, expires_at=stamp_in(-60))
        revoked = await mod.add_warning(conn, did=BOB, reason="mistake", issued_by=MOD, now=now)
        soon = stamp_in(3600)
        later = await mod.add_warning(conn, did=ALICE, reason="again", issued_by=MOD, now=now, expires_at=soon)
        bob = await mod.add_warning(conn, did=BOB, reason="rude", issued_by=MOD, now=now)
        assert await mod.revoke_warning(conn, revoked, ALICE, now) == BOB
        assert await mod.revoke_warning(conn, revoked, ALICE, now) is None  # already revoked
        assert await mod.revoke_warning(conn, 999, ALICE, now) is None
    async with db.read() as conn:
        listed, total = await mod.warnings_page(conn, limit=50, did=None, now=now_stamp())
        assert ([w.id for w in listed], total) == ([bob, later, first], 3)
        assert [(w.did, w.handle, w.reason, w.issued_by) for w in listed] == [
            (BOB, None, "rude", MOD),
            (ALICE, "alice.test", "again", MOD),
            (ALICE, "alice.test", "spam", MOD),
        ]
        assert [w.expires_at for w in listed] == [None, soon, None]
        one, total = await mod.warnings_page(conn, limit=1, did=ALICE, now=now_stamp())
        assert ([w.id for w in one], total) == ([later], 2)
        every, total = await mod.warnings_page(conn, limit=50, did=None, now=now_stamp(), include_inactive=True)
        assert ([w.id for w in every], total) == ([bob, later, revoked, lapsed, first], 5)
        gone = next(w for w in every if w.id == revoked)
        assert (gone.revoked_by, gone.revoked_at is not None) == (ALICE, True)
        assert await mod.warnings_page(conn, limit=5, did="did:plc:nobody", now=now) == ([], 0)


async def test_violations_resolved_ones_stay_listed(db: Database) -> None:
    now = now_stamp()
    async with db.write() as conn:
        await index.upsert_repo(conn, BOB, now, handle="bob.test", pds_url="http://127.0.0.1:1", synced=True)
        low = await mod.add_violation(conn, did=ALICE, type="spam", severity="low", recorded_by=MOD, now=now)
        high = await mod.add_violation(
            conn,
            did=BOB,
            type="plagiarism",
            severity="high",
            recorded_by=MOD,
            now=now,
            description="copied abstract",
            context='{"source":"doi:10.1/x"}',
            subject_uri=f"at://{BOB}/pub.chive.eprint.submission/a1",
        )
        assert await mod.resolve_violation(conn, low, MOD, now) == ALICE
        assert await mod.resolve_violation(conn, low, MOD, now) is None
    async with db.read() as conn:
        listed, total = await mod.violations_page(conn, limit=50, did=None)
        assert ([v.id for v in listed], total) == ([high, low], 2)
        assert listed[0] == mod.Violation(
            id=high,
            did=BOB,
            handle="bob.test",
            type="plagiarism",
            severity="high",
            description="copied abstract",
            context='{"source":"doi:10.1/x"}',
            subject_uri=f"at://{BOB}/pub.chive.eprint.submission/a1",
            recorded_by=MOD,
            created_at=now,
            resolved_at=None,
            resolved_by=None,
        )
        assert (listed[1].resolved_at, listed[1].resolved_by) == (now, MOD)
        only, total = await mod.violations_page(conn, limit=1, did=ALICE)
        assert ([v.id for v in only], total) == ([low], 1)


async def test_an_unknown_severity_is_refused_by_the_table(db: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)check"):
        async with db.write() as conn:
            await mod.add_violation(conn, did=ALICE, type="spam", severity="extreme", recorded_by=MOD, now=now_stamp())
    async with db.read() as conn:
        assert await mod.violations_page(conn, limit=5, did=None) == ([], 0)
