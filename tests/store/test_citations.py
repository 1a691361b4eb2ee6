"""Citation storage: replacing an eprint's citations, linking to indexed eprints, and what is pending."""

from __future__ import annotations

import pytest

from chive_admin.citations.extract import Citation
from chive_admin.ingest.write import apply_records
from chive_admin.store import citations, search
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord

DID = "did:plc:citer0000000000000000000"
T = "2026-01-01T00:00:00.000000Z"


def eprint(rkey: str, cid: str, doi: str | None = None) -> IndexedRecord:
    value: dict[str, object] = {"title": rkey}
    if doi:
        value["publishedVersion"] = {"doi": doi}
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, rkey, cid, value)


@pytest.fixture
async def db(db: Database) -> Database:
    """The test database holding two eprints, "a" and "b" (which has a DOI)."""
    async with db.write() as conn:
        await apply_records(conn, [eprint("a", "c1"), eprint("b", "c1", doi="10.1000/B")], T)
    return db


async def test_pending_until_extracted_and_again_after_a_change(db: Database) -> None:
    async with db.read() as conn:
        assert [p.uri.rsplit("/", 1)[1] for p in await citations.pending(conn, "", 10)] == ["a", "b"]
    a_uri = eprint("a", "c1").uri
    found = [Citation("doi", "10.1000/b", "[1] ... 10.1000/B", 0), Citation("url", "https://x.org", "https://x.org")]
    async with db.write() as conn:
        assert await citations.replace(conn, a_uri, "c1", found, T) == 2
        assert await citations.replace(conn, a_uri, "c1", found, T) == 2  # idempotent
    async with db.read() as conn:
        assert [p.uri.rsplit("/", 1)[1] for p in await citations.pending(conn, "", 10)] == ["b"]
        stored = await citations.of_eprint(conn, a_uri)
    assert stored == [("doi", "10.1000/b", eprint("b", "c1").uri), ("url", "https://x.org", None)]
    async with db.write() as conn:  # a new version of "a" is pending again
        await apply_records(conn, [eprint("a", "c2")], T)
    async with db.read() as conn:
        assert [p.uri.rsplit("/", 1)[1] for p in await citations.pending(conn, "", 10)] == ["a", "b"]
        assert await citations.count_pending(conn) == 2


async def test_failed_extraction_is_not_pending(db: Database) -> None:
    b_uri = eprint("b", "c1").uri
    async with db.write() as conn:
        await citations.mark_failed(conn, b_uri, "c1", "encrypted", T)
    async with db.read() as conn:
        assert [p.uri for p in await citations.pending(conn, "", 10)] == [eprint("a", "c1").uri]
