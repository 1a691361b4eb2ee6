"""The audit trail in the store: anonymous refusals kept but never listed, pages and cursors that agree."""

from __future__ import annotations

from chive_admin.store import audit as audit_store
from chive_admin.store.audit import AuditEntry
from chive_admin.store.db import Database

ADMIN = "did:plc:admin00000000000000000000"
OTHER = "did:plc:other00000000000000000000"
T0 = "2026-01-01T00:00:00.000000Z"


def _entry(actor: str | None) -> AuditEntry:
    if actor is None:
        return AuditEntry(at=T0, method="m", outcome="refused", status=401, reason="no_credentials")
    return AuditEntry(at=T0, method="m", outcome="allowed", status=200, actor_did=actor, via="api-key")


async def _append(db: Database, actors: list[str | None]) -> None:
    async with db.write() as conn:
        await audit_store.append_audit(conn, [_entry(actor) for actor in actors])


async def _pages(db: Database, limit: int, actor_did: str | None = None) -> list[audit_store.AuditPage]:
    pages: list[audit_store.AuditPage] = []
    before: int | None = None
    while True:
        async with db.read() as conn:
            page = await audit_store.audit_page(conn, limit=limit, before_id=before, actor_did=actor_did)
        pages.append(page)
        if not page.more:
            return pages
        before = page.entries[-1].id


async def test_anonymous_refusals_are_kept_but_not_listed(db: Database) -> None:
    # oldest first: 3 identified, then 4 anonymous, then 2 identified, then 5 anonymous (newest)
    await _append(db, [ADMIN, OTHER, ADMIN, None, None, None, None, ADMIN, OTHER, *[None] * 5])
    pages = await _pages(db, limit=2)
    listed = [e for page in pages for e in page.entries]
    assert [e.actor_did for e in listed] == [OTHER, ADMIN, ADMIN, OTHER, ADMIN]
    assert [e.id for e in listed] == [9, 8, 3, 2, 1]
    assert {page.total for page in pages} == {5}
    # a cursor only when a page follows, even when older anonymous rows would fill one
    assert [page.more for page in pages] == [True, True, False]
    async with db.read() as conn:
        assert (await conn.fetchall("SELECT count(*) FROM audit_log WHERE actor_did IS NULL"))[0][0] == 9


async def test_a_full_last_page_has_no_cursor(db: Database) -> None:
    await _append(db, [None, ADMIN, None, ADMIN, None])
    pages = await _pages(db, limit=2)
    assert len(pages) == 1
    assert [e.id for e in pages[0].entries] == [4, 2]
    assert (pages[0].total, pages[0].more) == (2, False)


async def test_actor_filter_and_only_anonymous_rows(db: Database) -> None:
    async with db.read() as conn:
        empty = await audit_store.audit_page(conn, limit=5, before_id=None, actor_did=None)
    assert (list(empty.entries), empty.total, empty.more) == ([], 0, False)
    await _append(db, [None, None, OTHER, ADMIN, None])
    async with db.read() as conn:
        nobody = await audit_store.audit_page(conn, limit=5, before_id=None, actor_did=None)
        other = await audit_store.audit_page(conn, limit=5, before_id=None, actor_did=OTHER)
    assert [e.id for e in nobody.entries] == [4, 3]
    assert [(e.id, e.actor_did) for e in other.entries] == [(3, OTHER)]
    assert other.total == 1
