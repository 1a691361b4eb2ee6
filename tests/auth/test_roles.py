"""Roles on a real database: bootstrap admins plus the roles table, cached briefly and boundedly."""

from __future__ import annotations

import pytest

from chive_admin.auth import roles
from chive_admin.auth.roles import RoleBook
from chive_admin.clock import now_stamp
from chive_admin.store import access
from chive_admin.store.db import Database

BOOTSTRAP = "did:plc:bootstrap00000000000000000"
GRANTED = "did:plc:granted0000000000000000000"


async def test_roles_come_from_bootstrap_and_the_table(db: Database) -> None:
    async with db.write() as conn:
        await access.grant(conn, GRANTED, "moderator", None, now_stamp())
    book = RoleBook(db, [BOOTSTRAP])
    assert await book.roles_of(BOOTSTRAP) == {"admin"}
    assert await book.roles_of(GRANTED) == {"moderator"}
    assert await book.roles_of("did:plc:nobody") == frozenset()


async def test_every_token_names_a_did_but_the_cache_stays_bounded(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roles, "MAX_CACHED", 40)
    book = RoleBook(db, [BOOTSTRAP])
    for n in range(400):
        assert await book.roles_of(f"did:plc:stranger{n:017d}") == frozenset()
        assert len(book._cache) <= 40
    assert await book.roles_of(BOOTSTRAP) == {"admin"}
