"""Takedowns: one visibility rule that every reader of the index honours, whatever the write path does after."""

from __future__ import annotations

from chive_admin._generated import ids
from chive_admin.store import citations, content, index, search, takedowns
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord

DID = "did:plc:author000000000000000000"
ADMIN = "did:plc:admin0000000000000000000"


def eprint(rkey: str, title: str, cid: str = "c1") -> IndexedRecord:
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, rkey, f"{cid}-{rkey}", {"title": title})


async def visible_counts(db: Database) -> tuple[int, int, int, dict[str, int]]:
    async with db.read() as conn:
        stats = await index.pds_stats(conn, 10)
        return (
            await search.visible_eprints(conn),
            await citations.count_pending(conn),
            sum(p.record_count for p in stats.items),
            await index.counts_by(conn, search.EPRINT_COLLECTION, "title"),
        )


async def test_a_takedown_hides_from_every_reader_and_survives_rewrites(db: Database) -> None:
    kept, gone = eprint("a", "Kept"), eprint("b", "Gone")
    async with db.write() as conn:
        await index.upsert_repo(conn, DID, "t0", pds_url="https://pds.example")
        await index.upsert_records(conn, [kept, gone], "t0")
    assert await visible_counts(db) == (2, 2, 2, {"Gone": 1, "Kept": 1})
    async with db.write() as conn:
        assert await takedowns.take_down(conn, gone.uri, gone.collection, "spam", ADMIN, "t1") is True
        # a second takedown keeps the first (who, when, why) and writes nothing
        assert await takedowns.take_down(conn, gone.uri, gone.collection, "again", "did:plc:other", "t2") is False
        row = await takedowns.get(conn, gone.uri)
    assert row == takedowns.Takedown(gone.uri, gone.collection, gone.cid, "spam", ADMIN, "t1")
    hidden = (1, 1, 1, {"Kept": 1})
    assert await visible_counts(db) == hidden
    # every ingest path writes through upsert_records: the same record, a new version, a delete-and-recreate
    recreated = eprint("b", "Gone, recreated", cid="c2")
    async with db.write() as conn:
        await index.upsert_records(conn, [gone], "t3")
        await index.upsert_records(conn, [recreated], "t4")
        await index.delete_records(conn, [gone.uri])
        await index.upsert_records(conn, [eprint("b", "Gone, third time", cid="c3")], "t5")
        await index.set_repo_hidden(conn, DID, False)
        await search.upsert(conn, [search.document_for(recreated.uri, recreated.value)])
        assert await citations.pending(conn, "", 10) == [citations.PendingEprint(kept.uri, DID, kept.cid, kept.json)]
        assert await citations.eprint(conn, gone.uri) is None
    assert await visible_counts(db) == hidden
    async with db.read() as conn:
        assert await search.search(conn, "recreated") == []
        assert [d.uri for d in await search.eprints_after(conn, "", 10)] == [kept.uri]
    async with db.write() as conn:
        lifted = await takedowns.restore(conn, gone.uri)
        assert lifted is not None
        assert lifted.reason == "spam"
        assert await takedowns.restore(conn, gone.uri) is None
    assert (await visible_counts(db))[:3] == (2, 2, 2)


async def test_a_uri_not_indexed_yet_is_taken_down_in_advance(db: Database) -> None:
    later = IndexedRecord.from_parts(DID, ids.PUB_CHIVE_REVIEW_COMMENT, "r1", "cr1", {"text": "later"})
    other = IndexedRecord.from_parts(DID, ids.PUB_CHIVE_REVIEW_COMMENT, "r2", "cr2", {"text": "other"})
    async with db.write() as conn:
        assert await takedowns.take_down(conn, later.uri, later.collection, None, ADMIN, "t1") is True
        assert (await takedowns.get(conn, later.uri)) == takedowns.Takedown(
            later.uri, later.collection, None, None, ADMIN, "t1"
        )
        await index.upsert_records(conn, [later, other], "t2")  # in one batch with a record not taken down
    async with db.read() as conn:
        assert await index.counts_by(conn, later.collection, "text") == {"other": 1}
        flags = await conn.fetchall("SELECT rkey, taken_down FROM records ORDER BY rkey")
        assert [(str(r[0]), int(r[1])) for r in flags] == [("r1", 1), ("r2", 0)]
        # the per-repository counters count only the visible one
        assert (await content.overview(conn, None)).reviews == 1
        assert await takedowns.taken_down(conn, [later.uri, "at://x"]) == {later.uri}
        assert await takedowns.taken_down(conn, []) == set()
