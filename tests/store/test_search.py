"""Search index: documents from eprint records, incremental upkeep, and a rebuild that swaps atomically."""

from __future__ import annotations

from chive_admin.store import index, search
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord
from chive_admin.store.sql import Dialect

DID = "did:plc:author000000000000000000"


def eprint(rkey: str, title: str, *, abstract: str = "An abstract", author: str = "Ada Lovelace") -> IndexedRecord:
    return IndexedRecord.from_parts(
        DID,
        search.EPRINT_COLLECTION,
        rkey,
        f"cid-{rkey}-{title}",
        {
            "title": title,
            "abstract": [{"$type": "pub.chive.richtext.defs#textItem", "type": "text", "content": abstract}],
            "keywords": ["graphs", "proofs"],
            "authors": [{"name": author, "order": 1}],
        },
    )


def test_document_from_a_submission_record() -> None:
    record = eprint("a", "Graph colouring", abstract="We colour graphs.")
    doc = search.document_for(record.uri, record.value)
    assert doc == search.SearchDoc(record.uri, "Graph colouring", "We colour graphs.", "graphs proofs", "Ada Lovelace")
    plain = search.document_for("u", {"title": "T", "abstractPlainText": "Plain", "abstract": []})
    assert plain.abstract == "Plain"
    assert search.document_for("u", {"title": 5, "keywords": "no", "authors": [1]}).title == ""


def test_user_text_never_becomes_fts_syntax() -> None:
    assert search.fts_query('graph" OR title:* NEAR(') == '"graph" "OR" "title" "NEAR"*'
    assert search.fts_query("  ...  ") is None


async def test_incremental_upkeep_and_search(db: Database) -> None:
    records = [eprint("a", "Graph colouring"), eprint("b", "Protein folding", author="Rosalind Franklin")]
    async with db.write() as conn:
        await search.upsert(conn, [search.document_for(r.uri, r.value) for r in records])
    async with db.read() as conn:
        assert await search.search(conn, "colouring") == [records[0].uri]
        assert await search.search(conn, "franklin") == [records[1].uri]
        assert len(await search.search(conn, "graph")) == 2  # keyword "graphs" of both, by prefix
        assert await search.search(conn, "fold") == [records[1].uri]  # prefix on the last word
    async with db.write() as conn:
        await search.remove(conn, [records[0].uri])
    async with db.read() as conn:
        assert await search.search(conn, "colouring") == []


async def test_rebuild_swaps_atomically_and_sees_concurrent_ingest(db: Database) -> None:
    old = eprint("a", "Old title")
    async with db.write() as conn:
        await search.upsert(conn, [search.document_for(old.uri, old.value)])
        await index.upsert_records(conn, [eprint(f"r{i:03d}", f"Topology {i}") for i in range(10)], "t")
    async with db.write() as conn:
        shadow = await search.begin_rebuild(conn)
        assert await search.begin_rebuild(conn) == shadow  # resumable, not restarted
        batch = await search.eprints_after(conn, "", 4)
        await search.fill(conn, shadow, batch)
    assert [d.title for d in batch] == [f"Topology {i}" for i in range(4)]
    # ingest during the rebuild reaches both the live index and the one being built
    late = eprint("z", "Late arrival")
    async with db.write() as conn:
        await search.upsert(conn, [search.document_for(late.uri, late.value)])
    async with db.read() as conn:  # search still answers from the old index
        assert await search.search(conn, "old") == [old.uri]
        assert await search.search(conn, "topology") == []
    async with db.write() as conn:
        after = batch[-1].uri
        while docs := await search.eprints_after(conn, after, 4):
            await search.fill(conn, shadow, docs)
            after = docs[-1].uri
        await search.finish_rebuild(conn, "now")
    async with db.read() as conn:
        assert len(await search.search(conn, "topology", limit=50)) == 10
        assert await search.search(conn, "late") == [late.uri]
        assert await search.search(conn, "old") == []  # not in the records table, so not in the rebuilt index
        assert (await search.state(conn)).live == shadow


async def test_abandoned_rebuild_leaves_live_index_alone(db: Database) -> None:
    doc = search.document_for("at://x/y.z/1", {"title": "Kept"})
    async with db.write() as conn:
        await search.upsert(conn, [doc])
        shadow = await search.begin_rebuild(conn)
        await search.abandon_rebuild(conn)
    async with db.read() as conn:
        current = await search.state(conn)
        assert current.building is None
        assert current.live != shadow
        assert await search.search(conn, "kept") == ["at://x/y.z/1"]


async def test_a_swap_empties_the_old_index_and_gives_its_pages_back(db: Database) -> None:
    """The index swapped out is emptied at once (kept, it doubled the search index on disk until the next rebuild);
    on SQLite its pages then go back to the file system, a few at a time."""
    records = [eprint(f"r{i:03d}", f"Topology {i}", abstract=f"knot{i} " * 20000) for i in range(60)]
    async with db.write() as conn:
        await index.upsert_records(conn, records, "t")
        await search.upsert(conn, [search.document_for(r.uri, r.value) for r in records])
        old = (await search.state(conn)).live
        shadow = await search.begin_rebuild(conn)
        await search.fill(conn, shadow, await search.eprints_after(conn, "", 100))
        await search.finish_rebuild(conn, "now")
        assert await search.count(conn, old) == 0
        assert await search.count(conn) == 60
    rounds = 0
    while True:
        async with db.write() as conn:
            more = await search.reclaim_free_pages(conn)
        rounds += 1
        if not more:
            break
    async with db.read() as conn:
        assert len(await search.search(conn, "topology", limit=100)) == 60
        if db.dialect is Dialect.SQLITE:  # a new database is made with auto_vacuum = INCREMENTAL
            assert [tuple(r) for r in await conn.fetchall("PRAGMA auto_vacuum")] == [(2,)]
            assert [tuple(r) for r in await conn.fetchall("PRAGMA freelist_count")] == [(0,)]
            assert rounds > 1  # more than RECLAIM_PAGES were freed, and given back over several transactions
    async with db.write() as conn:  # the emptied table is the next rebuild's, as before
        assert await search.begin_rebuild(conn) == old
