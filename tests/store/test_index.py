"""The record index: idempotent upserts by (uri, cid), deletions, repos and PDS health."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chive_admin.store import index
from chive_admin.store.db import Database, bundled_migrations
from chive_admin.store.index import IndexedRecord, UpsertResult
from chive_admin.store.sql import Dialect

DID = "did:plc:alice0000000000000000000"
COLL = "pub.chive.review.comment"


def rec(rkey: str, cid: str, text: str = "x", did: str = DID) -> IndexedRecord:
    return IndexedRecord.from_parts(did, COLL, rkey, cid, {"$type": COLL, "text": text})


async def rows(db: Database) -> list[tuple[object, ...]]:
    async with db.read() as conn:
        return [tuple(r) for r in await conn.fetchall("SELECT uri, cid, writes FROM records ORDER BY uri")]


async def test_upsert_is_idempotent_by_uri_and_cid(db: Database) -> None:
    async with db.write() as conn:
        first = await index.upsert_records(conn, [rec("a", "c1"), rec("b", "c1")], "2026-01-01T00:00:00Z")
    assert first == UpsertResult(inserted=2)
    async with db.write() as conn:
        again = await index.upsert_records(conn, [rec("a", "c1"), rec("b", "c2", "new")], "2026-01-02T00:00:00Z")
    assert again == UpsertResult(updated=1, unchanged=1)
    assert await rows(db) == [(f"at://{DID}/{COLL}/a", "c1", 1), (f"at://{DID}/{COLL}/b", "c2", 2)]
    async with db.read() as conn:
        verified = await conn.fetchall("SELECT verified_at, indexed_at FROM records ORDER BY uri")
    # an unchanged record is re-verified, never rewritten
    assert [tuple(v) for v in verified] == [
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"),
    ]


async def test_large_batches_cross_the_parameter_limit(db: Database) -> None:
    batch = [rec(f"k{i:05d}", "c") for i in range(1200)]
    async with db.write() as conn:
        assert (await index.upsert_records(conn, batch, "t")).inserted == 1200
    async with db.write() as conn:
        assert (await index.upsert_records(conn, batch, "t")).unchanged == 1200


async def test_record_cids_and_delete(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_records(conn, [rec("a", "1"), rec("b", "2"), rec("c", "3", did="did:plc:other")], "t")
        held = await index.record_cids(conn, DID)
        assert held == {f"at://{DID}/{COLL}/a": "1", f"at://{DID}/{COLL}/b": "2"}
        assert await index.record_cids(conn, DID, ["pub.chive.other"]) == {}
        assert await index.delete_records(conn, [f"at://{DID}/{COLL}/a", "at://nothing/x.y.z/q"]) == 1
    assert [r[0] for r in await rows(db)] == [f"at://{DID}/{COLL}/b", "at://did:plc:other/pub.chive.review.comment/c"]


async def test_repo_upsert_keeps_known_fields(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, DID, "t1", handle="alice.test", pds_url="http://pds", rev="r1", synced=True)
        await index.upsert_repo(conn, DID, "t2", status="deactivated")
        await index.set_repo_hidden(conn, DID, True)
    async with db.read() as conn:
        row = (await conn.fetchall("SELECT handle, pds_url, status, rev, last_synced_at FROM repos"))[0]
    assert tuple(row) == ("alice.test", "http://pds", "deactivated", "r1", "t1")


async def test_hiding_a_repo_rewrites_only_the_rows_that_change(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_records(conn, [rec("a", "1"), rec("b", "2"), rec("c", "3", did="did:plc:other")], "t")

        async def changed_by(hidden: bool) -> int:
            return await index.set_repo_hidden(conn, DID, hidden)

        assert await changed_by(False) == 0  # a re-synced repo is already shown: nothing is rewritten
        assert await changed_by(True) == 2
        assert await changed_by(True) == 0
        hidden = {row[0]: row[1] for row in await conn.fetchall("SELECT uri, hidden FROM records")}
        assert hidden == {
            "at://did:plc:other/pub.chive.review.comment/c": 0,
            f"at://{DID}/{COLL}/a": 1,
            f"at://{DID}/{COLL}/b": 1,
        }
        assert await changed_by(False) == 2


async def test_pds_health_and_stats(db: Database) -> None:
    async with db.write() as conn:
        await index.record_pds_scan(conn, "http://a", "2026-01-01T00:00:00Z", repo_count=2)
        await index.upsert_repo(conn, DID, "t", pds_url="http://a")
        await index.upsert_records(conn, [rec("a", "1"), rec("b", "1")], "t")
        for _ in range(index.UNHEALTHY_AFTER):
            await index.record_pds_scan(conn, "http://b", "2026-01-02T00:00:00Z", error="connection refused")
        await index.ensure_pds(conn, "http://c", "t")
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=10)
        limited = await index.pds_stats(conn, limit=1)
    assert (stats.total, stats.healthy, stats.unhealthy, stats.with_records) == (3, 1, 1, 1)
    by_url = {row.url: row for row in stats.items}
    assert by_url["http://a"].record_count == 2
    assert by_url["http://a"].status == "healthy"
    assert by_url["http://b"].consecutive_errors == index.UNHEALTHY_AFTER
    assert by_url["http://b"].last_error == "connection refused"
    assert by_url["http://c"].status == "unknown"
    # last successful scan first; never successfully scanned last
    assert [row.url for row in stats.items] == ["http://a", "http://b", "http://c"]
    assert by_url["http://b"].last_scan_at is None
    assert len(limited.items) == 1
    assert limited.total == 3
    async with db.write() as conn:  # one success ends the streak
        await index.record_pds_scan(conn, "http://b", "2026-01-03T00:00:00Z")
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=10)
    assert {row.url: row.consecutive_errors for row in stats.items}["http://b"] == 0


async def test_live_connections_mark_a_registered_host_but_no_scan_and_register_nothing(db: Database) -> None:
    async with db.write() as conn:
        await index.record_pds_scan(conn, "http://a", "2026-01-01T00:00:00Z", repo_count=2)
        for n in range(3):
            await index.record_pds_connection(
                conn, "http://a", f"2026-01-02T00:00:0{n}Z", error="refused", unhealthy_after=4
            )
        held = await index.pds_stats(conn, limit=10)
        await index.record_pds_connection(conn, "http://a", "2026-01-02T00:00:09Z", error="refused", unhealthy_after=4)
        down = await index.pds_stats(conn, limit=10)
        await index.record_pds_connection(conn, "http://a", "2026-01-03T00:00:00Z", error=None, unhealthy_after=4)
        up = await index.pds_stats(conn, limit=10)
        await index.record_pds_connection(conn, "http://relay", "t", error="refused", unhealthy_after=1)
        assert not await index.pds_known(conn, "http://relay")  # a relay is no PDS of the registry
    assert [(r.status, r.consecutive_errors) for r in held.items] == [("healthy", 3)]
    assert [(r.status, r.consecutive_errors, r.last_error) for r in down.items] == [("unhealthy", 4, "refused")]
    [row] = up.items
    assert (row.status, row.consecutive_errors, row.last_error, row.error_count) == ("healthy", 0, None, 4)
    # a connection is no scan: the last scan and its repository count stay
    assert (row.last_scan_at, row.repo_count) == ("2026-01-01T00:00:00Z", 2)


async def test_the_host_of_every_repo_is_in_the_registry(db: Database) -> None:
    """A repo indexed by any job (did-sync, governance-sync, freshness-scan), not only by a pds-scan, names a host
    that listPDSes lists, with that repo's records counted; registering it leaves a scanned host's health alone."""
    async with db.write() as conn:
        await index.record_pds_scan(conn, "http://scanned", "2026-01-01T00:00:00Z", repo_count=1)
        await index.upsert_records(conn, [rec("a", "1"), rec("b", "1"), rec("c", "1", did="did:plc:bob")], "t")
        await index.upsert_repo(conn, DID, "t", handle="alice.test", pds_url="http://synced", synced=True)
        await index.upsert_repo(conn, "did:plc:bob", "t", pds_url="http://scanned", synced=True)
        await index.upsert_repo(conn, "did:plc:nohost", "t")  # no host known: nothing to register
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=10)
    assert (stats.total, stats.healthy, stats.unhealthy, stats.with_records) == (2, 1, 0, 2)
    by_url = {row.url: row for row in stats.items}
    assert (by_url["http://synced"].status, by_url["http://synced"].record_count) == ("unknown", 2)
    assert (by_url["http://scanned"].status, by_url["http://scanned"].record_count) == ("healthy", 1)
    assert by_url["http://scanned"].repo_count == 1


@pytest.mark.sqlite_only  # PostgreSQL databases start at version 11, with the hosts registered from the first
async def test_a_database_from_before_gets_the_hosts_of_its_repos(db: Database) -> None:
    """The migration registers the hosts of repos indexed before every job registered them."""
    [migration] = [m for m in bundled_migrations(Dialect.SQLITE) if m.name == "repo_hosts"]
    async with db.write() as conn:  # a repo row as a did-sync wrote it before: its host unregistered
        await conn.execute(
            "INSERT INTO repos (did, pds_url, status, updated_at) VALUES (?, 'http://old', 'active', 't')", (DID,)
        )
        await index.upsert_records(conn, [rec("a", "1")], "t")
        await conn.execute("DELETE FROM schema_migrations WHERE version = ?", (migration.version,))
    await db.migrate(bundled_migrations(Dialect.SQLITE))
    async with db.read() as conn:
        stats = await index.pds_stats(conn, limit=10)
    assert [(row.url, row.status, row.record_count) for row in stats.items] == [("http://old", "unknown", 1)]


# what a parsed JSON value can hold: no floats (the atproto data model has none), but integers past 64 bits and lone
# surrogates, which JSON can carry and the data model cannot


async def test_upsert_repo_stores_the_verified_handle_lowercased_and_first_seen_once(db: Database) -> None:
    async def row() -> tuple[str | None, str | None]:
        async with db.read() as conn:
            found = await conn.fetchone("SELECT handle, first_seen_at FROM repos WHERE did = ?", (DID,))
        assert found is not None
        return found[0], found[1]

    async with db.write() as conn:
        await index.upsert_repo(conn, DID, "t1", handle="Alice.TEST", synced=True)
    assert await row() == ("alice.test", "t1")
    async with db.write() as conn:  # a path that verified nothing keeps the handle
        await index.upsert_repo(conn, DID, "t2", status="deactivated")
    assert await row() == ("alice.test", "t1")
    async with db.write() as conn:  # one that found none verified drops it: the claimed one is never kept
        await index.upsert_repo(conn, DID, "t3", handle=None, synced=True)
    assert await row() == (None, "t1")


async def test_a_repo_head_and_a_snapshot_rev_forgetting_its_root(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, "did:plc:h", "t0", pds_url="http://pds.test", rev="r1")
        await index.set_repo_head(conn, "did:plc:h", "r2", "bafyroot2", "t1")
        assert await index.repo_heads(conn, ["did:plc:h", "did:plc:none"]) == {
            "did:plc:h": index.RepoHead("r2", "bafyroot2", "http://pds.test")
        }
        await index.upsert_repo(conn, "did:plc:h", "t2", status="active")  # no rev: the head stays whole
        assert (await index.repo_heads(conn, ["did:plc:h"]))["did:plc:h"].data_cid == "bafyroot2"
        # a snapshot's rev comes without its root: the stored one was another rev's
        await index.upsert_repo(conn, "did:plc:h", "t3", rev="r5")
        assert (await index.repo_heads(conn, ["did:plc:h"]))["did:plc:h"] == index.RepoHead(
            "r5", None, "http://pds.test"
        )


@pytest.mark.sqlite_only  # the SQLite table is made again; PostgreSQL's 026 only swaps an index (below)
async def test_migration_026_keeps_every_row_and_what_reads_them(tmp_path: Path) -> None:
    """A database at 025, with records, counters, a takedown and search documents, migrates to 026 without losing a
    row: the columns now computed from the URI read as they were stored, the counters and triggers still count, the
    search index still answers."""
    from chive_admin.store import content, search, takedowns

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
    for migration in bundled_migrations(Dialect.SQLITE):
        if migration.version < 26:
            raw.executescript(f"BEGIN; {migration.sql}; COMMIT;")
            raw.execute("INSERT INTO schema_migrations VALUES (?, ?, 't')", (migration.version, migration.name))
    stored = [
        (f"at://{did}/{coll}/{rkey}", did, coll, rkey, f"c{n}", json.dumps({"$type": coll, "createdAt": f"2026-0{n}"}))
        for n, (did, coll, rkey) in enumerate(
            [
                (DID, COLL, "a"),
                (DID, COLL, "b"),
                ("did:web:x-y.test%3A80", "pub.chive.review.endorsement", "3k2"),
                (DID, "pub.chive.actor.profile", "self"),
                (DID, "pub.chive.future.thing", "k"),  # a collection 026 does not number: kept by name
            ],
            start=1,
        )
    ]
    raw.executemany(
        "INSERT INTO records (uri, did, collection, rkey, cid, value, indexed_at, verified_at, hidden)"
        " VALUES (?, ?, ?, ?, ?, ?, 'i', 'v', 0)",
        stored,
    )
    raw.execute(
        "INSERT INTO takedowns (uri, collection, taken_down_by, taken_down_at) VALUES (?, ?, 'did:plc:mod', 't')",
        (stored[1][0], COLL),
    )
    raw.execute("INSERT INTO search_docids (uri) VALUES ('at://e/pub.chive.eprint.submission/1')")
    raw.execute(
        "INSERT INTO search_a (rowid, uri, title, abstract, keywords, authors) VALUES (1, ?, 'Knots', '', '', '')",
        ("at://e/pub.chive.eprint.submission/1",),
    )
    raw.close()

    db = await Database.open(path)
    try:
        async with db.read() as conn:
            after = await conn.fetchall(
                "SELECT uri, did, collection, rkey, cid, value, indexed_at, verified_at, hidden, taken_down"
                " FROM records ORDER BY uri"
            )
            assert [tuple(r) for r in after] == sorted((*s, "i", "v", 0, int(s[0] == stored[1][0])) for s in stored)
            assert await content.visible_count(conn, COLL) == 1  # one comment taken down
            assert await search.search(conn, "knots") == ["at://e/pub.chive.eprint.submission/1"]
            indexes = {
                str(r[0]) for r in await conn.fetchall("SELECT name FROM sqlite_schema WHERE tbl_name = 'records'")
            }
        assert "records_did_collection" not in indexes
        assert {"records_uri", "records_verified_at", "records_comment_created", "records_eprint_uri"} <= indexes
        async with db.write() as conn:  # the triggers made again count and flag as before
            await index.upsert_records(conn, [rec("c", "c9")], "t")
            await takedowns.restore(conn, stored[1][0])
            assert await content.visible_count(conn, COLL) == 3
            assert await index.record_cids(conn, DID, [COLL]) == {
                f"at://{DID}/{COLL}/{k}": c for k, c in (("a", "c1"), ("b", "c2"), ("c", "c9"))
            }
    finally:
        await db.close()


async def test_a_repository_is_read_from_an_index(db: Database) -> None:
    """records_did_collection is gone (026): on SQLite a repository's records are a range of the URI index, on
    PostgreSQL records_did; either way they are read from an index, not a scan."""
    other = "did:plc:alice00000000000000000000"  # alice's DID with one character more: not her repository
    async with db.write() as conn:
        await index.upsert_records(conn, [rec("a", "c1"), rec("b", "c2"), rec("z", "c3", did=other)], "t")
        await index.upsert_repo(conn, DID, "t", pds_url="http://p")
    async with db.read() as conn:
        assert set(await index.record_cids(conn, DID)) == {f"at://{DID}/{COLL}/a", f"at://{DID}/{COLL}/b"}
        assert await index.unverified_since(conn, DID, "u") == [f"at://{DID}/{COLL}/a", f"at://{DID}/{COLL}/b"]
        assert [r.rkey for r in await index.records_to_verify(conn, other, "u")] == ["z"]
        assert (await index.pds_stats(conn, limit=5)).items[0].record_count == 2
        if db.dialect is Dialect.SQLITE:
            names = {
                str(r[0]) for r in await conn.fetchall("SELECT name FROM sqlite_schema WHERE tbl_name = 'records'")
            }
            where, args = index.in_repo(db.dialect, "r", DID)
            plan = [
                str(r[3])
                for r in await conn.fetchall(f"EXPLAIN QUERY PLAN SELECT uri FROM records r WHERE {where}", args)
            ]
            assert plan == ["SEARCH r USING INDEX records_uri (uri>? AND uri<?)"], plan
        else:
            names = {
                str(r[0]) for r in await conn.fetchall("SELECT indexname FROM pg_indexes WHERE tablename = 'records'")
            }
            assert "records_did" in names
    assert "records_did_collection" not in names
    async with db.write() as conn:
        assert await index.set_repo_hidden(conn, DID, True) == 2
    assert await rows(db) == [(f"at://{DID}/{COLL}/a", "c1", 1), (f"at://{DID}/{COLL}/b", "c2", 1),
                              (f"at://{other}/{COLL}/z", "c3", 1)]  # fmt: skip


async def test_new_records_are_written_in_uri_order(db: Database) -> None:
    """A listing comes newest first: the batch is written in key order (its indexes' pages stay full)."""
    async with db.write() as conn:
        await index.upsert_records(conn, [rec(k, "c") for k in ("c", "b", "a")], "t")
        order = await conn.fetchall(
            "SELECT uri FROM records ORDER BY " + ("rowid" if db.dialect is Dialect.SQLITE else "ctid")
        )
    assert [r[0] for r in order] == [f"at://{DID}/{COLL}/{k}" for k in ("a", "b", "c")]


@pytest.mark.sqlite_only
async def test_collections_are_stored_by_number_and_read_by_name(db: Database) -> None:
    """SQLite stores a collection's number (026); the name it computes back is the store's, for every numbered
    collection and for one that is not numbered (stored by name)."""
    from chive_admin.repo.validate import INDEXED

    names = [*index.COLLECTION_CODES, "pub.chive.future.thing"]
    assert set(INDEXED) <= set(index.COLLECTION_CODES)
    async with db.write() as conn:
        await index.upsert_records(
            conn, [IndexedRecord.from_parts(DID, name, "k", "c", {"$type": name}) for name in names], "t"
        )
        rows = await conn.fetchall("SELECT uri, did, collection, rkey, kind, other_collection FROM records")
    stored = {str(r[2]): tuple(r) for r in rows}
    assert set(stored) == set(names)
    for name in names:
        code = index.COLLECTION_CODES.get(name)
        assert stored[name] == (f"at://{DID}/{name}/k", DID, name, "k", code, None if code else name)
