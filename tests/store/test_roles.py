"""Roles in the store: a grant is idempotent, a revoke says whether there was one, holders come first-granted first."""

from __future__ import annotations

from chive_admin.clock import now_stamp
from chive_admin.store import roles as roles_store
from chive_admin.store.db import Database

ALICE = "did:plc:alice00000000000000000000"
BOB = "did:plc:bob0000000000000000000000"


async def test_grant_revoke_and_the_holders_of_a_role(db: Database) -> None:
    async with db.write() as conn:
        assert await roles_store.grant(conn, ALICE, "admin", None, now_stamp()) is True
        assert await roles_store.grant(conn, ALICE, "admin", None, now_stamp()) is False  # already held
        assert await roles_store.grant(conn, BOB, "admin", ALICE, now_stamp()) is True
        assert await roles_store.grant(conn, BOB, "moderator", ALICE, now_stamp()) is True
    async with db.read() as conn:
        assert await roles_store.roles_of(conn, BOB) == {"admin", "moderator"}
        assert await roles_store.holders_of(conn, "admin") == [ALICE, BOB]
        listed = await roles_store.list_roles(conn)
    assert [(g.did, g.role, g.granted_by) for g in listed] == [
        (ALICE, "admin", None),
        (BOB, "admin", ALICE),
        (BOB, "moderator", ALICE),
    ]
    async with db.write() as conn:
        assert await roles_store.revoke(conn, BOB, "admin") is True
        assert await roles_store.revoke(conn, BOB, "admin") is False
    async with db.read() as conn:
        assert await roles_store.roles_of(conn, BOB) == {"moderator"}
        assert await roles_store.roles_of(conn, "did:plc:nobody0000000000000000000") == frozenset()
