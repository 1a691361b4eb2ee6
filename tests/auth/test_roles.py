"""Roles on a real database: bootstrap admins plus the roles table, cached briefly and boundedly."""

from __future__ import annotations

import pytest

from chive_admin.auth import roles
from chive_admin.auth.roles import ROLES, RoleBook
from chive_admin.clock import now_stamp
from chive_admin.store import roles as roles_store
from chive_admin.store.db import Database

BOOTSTRAP = "did:plc:bootstrap00000000000000000"
GRANTED = "did:plc:granted0000000000000000000"


async def test_roles_come_from_bootstrap_and_the_table(db: Database) -> None:
    async with db.write() as conn:
        await roles_store.grant(conn, GRANTED, "moderator", None, now_stamp())
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


OTHER = "did:plc:other00000000000000000000"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def grant(db: Database, did: str, role: str) -> None:
    async with db.write() as conn:
        await roles_store.grant(conn, did, role, None, now_stamp())


async def revoke(db: Database, did: str, role: str) -> None:
    async with db.write() as conn:
        await roles_store.revoke(conn, did, role)


def test_the_roles_are_chives_known_values_and_ours() -> None:
    chives = ("admin", "moderator", "graph-editor", "author", "reader", "alpha-tester", "premium")
    assert (*chives, "metrics-writer") == ROLES


async def test_bootstrap_admins_are_admins_whatever_the_table_says(db: Database) -> None:
    book = RoleBook(db, [BOOTSTRAP])
    assert await book.roles_of(BOOTSTRAP) == {"admin"}
    await grant(db, BOOTSTRAP, "reader")
    await revoke(db, BOOTSTRAP, "admin")
    book.changed(BOOTSTRAP)
    assert await book.roles_of(BOOTSTRAP) == {"admin", "reader"}
    assert await book.roles_of(OTHER) == frozenset()


async def test_roles_are_cached_for_a_few_seconds_unless_changed_here(db: Database) -> None:
    clock = Clock()
    book = RoleBook(db, [], cache_seconds=5, clock=clock)
    assert await book.roles_of(OTHER) == frozenset()
    await grant(db, OTHER, "admin")  # as another process (the CLI) would
    clock.now = 4.9
    assert await book.roles_of(OTHER) == frozenset()
    clock.now = 5.0
    assert await book.roles_of(OTHER) == {"admin"}
    await revoke(db, OTHER, "admin")
    book.changed(OTHER)  # as assignRole and revokeRole do
    assert await book.roles_of(OTHER) == frozenset()
