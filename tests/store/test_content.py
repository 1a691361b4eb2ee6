"""Content counters: the triggers of migration 015 keep ``content_counts`` equal to a recount from scratch of the
visible records after every kind of write, the migration fills them from rows already present, and the readers
(getOverview, listEprints, listImports) answer from them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from chive_admin._generated import ids
from chive_admin.store import content, index, takedowns
from chive_admin.store.db import Database, bundled_migrations
from chive_admin.store.index import IndexedRecord
from chive_admin.store.sql import Conn, Dialect
from chive_admin.store.takedowns import visible

ALICE = "did:plc:contentalice00000000000000"
BOB = "did:plc:contentbob0000000000000000"
GOV = "did:plc:contentgovernance000000000"
ADMIN = "did:plc:contentadmin00000000000000"
PDS_A = "https://pds-a.example"
PDS_B = "https://pds-b.example"


def rec(did: str, collection: str, rkey: str, value: dict[str, Any], cid: str = "c1") -> IndexedRecord:
    return IndexedRecord.from_parts(did, collection, rkey, f"{cid}-{did[-6:]}-{rkey}", value)


def node(did: str, rkey: str, subkind: str, cid: str = "c1") -> IndexedRecord:
    return rec(did, ids.PUB_CHIVE_GRAPH_NODE, rkey, {"subkind": subkind, "label": rkey}, cid)


def eprint(did: str, rkey: str, created: str, **more: Any) -> IndexedRecord:
    value = {"title": f"Title {rkey}", "submittedBy": did, "createdAt": created, **more}
    return rec(did, ids.PUB_CHIVE_EPRINT_SUBMISSION, rkey, value)


def kind_of(collection: str, rkey: str, value: dict[str, Any]) -> str | None:
    """The rule of the issue, written here again on its own so the test does not check the migration by itself."""
    simple = {
        ids.PUB_CHIVE_EPRINT_SUBMISSION: "eprints",
        ids.PUB_CHIVE_REVIEW_COMMENT: "reviews",
        ids.PUB_CHIVE_REVIEW_ENDORSEMENT: "endorsements",
        ids.PUB_CHIVE_EPRINT_USER_TAG: "tags",
    }
    if collection in simple:
        return simple[collection]
    if collection == ids.PUB_CHIVE_ACTOR_PROFILE and rkey == "self":
        return "authors"
    if collection == ids.PUB_CHIVE_GRAPH_NODE and value.get("subkind") == "collection":
        return "collections"
    return None


async def recount(conn: Conn) -> dict[tuple[str, str], int]:
    rows = await conn.fetchall(f"SELECT did, collection, rkey, value FROM records WHERE {visible()}")
    counted: Counter[tuple[str, str]] = Counter()
    for did, collection, rkey, value in rows:
        kind = kind_of(collection, rkey, json.loads(value))
        if kind is not None:
            counted[(kind, did)] += 1
    return dict(counted)


async def counters(conn: Conn) -> dict[tuple[str, str], int]:
    rows = await conn.fetchall("SELECT kind, did, n FROM content_counts WHERE n <> 0")
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


async def totals(conn: Conn) -> dict[str, int]:
    rows = await conn.fetchall("SELECT kind, sum(n) FROM content_totals GROUP BY kind HAVING sum(n) <> 0")
    return {str(r[0]): int(r[1]) for r in rows}


async def assert_in_step(db: Database) -> dict[tuple[str, str], int]:
    """The counters equal a recount from scratch, and the totals (migration 017) their sums."""
    async with db.read() as conn:
        expected, held, summed = await recount(conn), await counters(conn), await totals(conn)
    assert held == expected
    by_kind: Counter[str] = Counter()
    for (kind, _), n in held.items():
        by_kind[kind] += n
    assert summed == {kind: n for kind, n in by_kind.items() if n}
    return held


async def test_the_counters_follow_every_write_path(db: Database) -> None:
    profile = rec(ALICE, ids.PUB_CHIVE_ACTOR_PROFILE, "self", {"displayName": "Alice"})
    stray_profile = rec(BOB, ids.PUB_CHIVE_ACTOR_PROFILE, "other", {"displayName": "not the profile"})
    field = node(ALICE, "n1", "field")
    coll = node(ALICE, "n2", "collection")
    paper = eprint(BOB, "e1", "2026-01-01T00:00:00Z")
    first = [
        eprint(ALICE, "e1", "2026-01-02T00:00:00Z"),
        eprint(ALICE, "e2", "2026-01-03T00:00:00Z"),
        paper,
        rec(BOB, ids.PUB_CHIVE_REVIEW_COMMENT, "r1", {"text": "fine"}),
        rec(BOB, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, "d1", {"eprintUri": paper.uri}),
        rec(ALICE, ids.PUB_CHIVE_EPRINT_USER_TAG, "t1", {"tag": "x"}),
        profile,
        stray_profile,
        field,
        coll,
        node(GOV, "g1", "collection"),
        rec(ALICE, ids.PUB_CHIVE_GRAPH_EDGE, "x1", {"relation": "broader"}),
    ]
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t0", pds_url=PDS_A)
        await index.upsert_repo(conn, BOB, "t0", pds_url=PDS_B)
        await index.upsert_records(conn, first, "t0")
    held = await assert_in_step(db)
    assert held[("authors", ALICE)] == 1
    assert ("authors", BOB) not in held
    assert held[("collections", ALICE)] == 1
    assert held[("eprints", ALICE)] == 2

    # a new version that changes a node's subkind moves it in or out of the collections
    async with db.write() as conn:
        await index.upsert_records(
            conn, [node(ALICE, "n1", "collection", "c2"), node(ALICE, "n2", "field", "c2")], "t1"
        )
    assert (await assert_in_step(db))[("collections", ALICE)] == 1
    async with db.write() as conn:
        await index.upsert_records(conn, [node(ALICE, "n2", "collection", "c3")], "t1")
    assert (await assert_in_step(db))[("collections", ALICE)] == 2

    # a repository hidden upstream, and back
    async with db.write() as conn:
        await index.set_repo_hidden(conn, ALICE, True)
    assert not any(did == ALICE for _, did in await assert_in_step(db))
    async with db.write() as conn:
        # a takedown of a record in a hidden repository, then the repository comes back: still not counted
        await takedowns.take_down(conn, profile.uri, profile.collection, None, ADMIN, "t2")
        await index.set_repo_hidden(conn, ALICE, False)
    assert ("authors", ALICE) not in await assert_in_step(db)

    # takedown, restore, and a takedown of a URI not indexed yet
    later = rec(BOB, ids.PUB_CHIVE_REVIEW_COMMENT, "r2", {"text": "later"})
    async with db.write() as conn:
        await takedowns.take_down(conn, paper.uri, paper.collection, "spam", ADMIN, "t3")
        await takedowns.take_down(conn, later.uri, later.collection, None, ADMIN, "t3")
        await index.upsert_records(conn, [later], "t3")
    held = await assert_in_step(db)
    assert ("eprints", BOB) not in held
    assert held[("reviews", BOB)] == 1
    async with db.write() as conn:
        await takedowns.restore(conn, profile.uri)
        await takedowns.restore(conn, later.uri)
        # a new version of a taken-down record stays out
        await index.upsert_records(conn, [eprint(BOB, "e1", "2026-01-04T00:00:00Z", cid="c2")], "t4")
    held = await assert_in_step(db)
    assert held[("authors", ALICE)] == 1
    assert held[("reviews", BOB)] == 2
    assert ("eprints", BOB) not in held

    # deletes: a visible record, a taken-down one, one of a hidden repository; then a whole repository purged
    async with db.write() as conn:
        await index.delete_records(conn, [first[0].uri, paper.uri])
        await index.set_repo_hidden(conn, BOB, True)
        await index.delete_records(conn, [later.uri])
        await index.set_repo_hidden(conn, BOB, False)
    assert (await assert_in_step(db))[("eprints", ALICE)] == 1
    async with db.write() as conn:
        await takedowns.restore(conn, paper.uri)  # its record is gone: nothing comes back
        await index.delete_records(conn, list(await index.record_cids(conn, ALICE)))
    held = await assert_in_step(db)
    assert not any(did == ALICE for _, did in held)
    async with db.read() as conn:
        assert await content.overview(conn, GOV) == content.Overview(
            eprints=0, reviews=1, endorsements=1, tags=0, authors=0, collections=0
        )
        assert (await content.overview(conn, None)).collections == 1  # no governance repository configured


async def test_the_migration_fills_the_counters_from_the_rows_present(db: Database) -> None:
    async with db.write() as conn:
        # written first: the write of today's code counts them as it goes (027), which needs the counters' tables
        await index.upsert_records(
            conn,
            [
                eprint(ALICE, "e1", "2026-01-01T00:00:00Z"),
                eprint(ALICE, "e2", "2026-01-01T00:00:00Z"),
                eprint(BOB, "e1", "2026-01-01T00:00:00Z"),
                rec(BOB, ids.PUB_CHIVE_ACTOR_PROFILE, "self", {}),
                node(ALICE, "n1", "collection"),
            ],
            "t0",
        )
        await undo_counters(conn)
        await takedowns.take_down(conn, f"at://{ALICE}/{ids.PUB_CHIVE_EPRINT_SUBMISSION}/e2", "x", None, ADMIN, "t1")
        await index.set_repo_hidden(conn, BOB, True)
    await db.migrate(bundled_migrations(db.dialect))
    held = await assert_in_step(db)
    assert held == {("eprints", ALICE): 1, ("collections", ALICE): 1}
    async with db.write() as conn:  # and the triggers are back
        await index.set_repo_hidden(conn, BOB, False)
    assert (await assert_in_step(db))[("authors", BOB)] == 1


async def undo_counters(conn: Conn) -> None:
    """The schema as it was before migrations 015 and 017, so that applying them again finds rows to count."""
    await conn.execute("DROP TABLE content_totals")
    await conn.execute("DELETE FROM schema_migrations WHERE version = 17")
    if conn.dialect is Dialect.POSTGRES:
        for name in ("inserted", "deleted", "updated"):
            await conn.execute(f"DROP FUNCTION content_counts_total_{name}() CASCADE")
        functions = ("records_count_inserted", "records_count_deleted", "records_count_updated", "takedowns_count")
        drops = [f"DROP FUNCTION {f}() CASCADE" for f in functions]
        drops.append("DROP FUNCTION content_count_add")
    else:
        drops = [
            f"DROP TRIGGER {name}"
            for name in (  # (027 took the insert trigger away already)
                "records_count_delete",
                "records_count_update_old",
                "records_count_update_new",
                "takedowns_count_insert",
                "takedowns_count_delete",
            )
        ]
        drops.append("DROP VIEW counted_records")
    drops += ["DROP INDEX records_eprint_created", "DROP TABLE content_counts", "DROP TABLE content_kinds"]
    for statement in drops:
        await conn.execute(statement)
    await conn.execute("DELETE FROM schema_migrations WHERE version = 15")
    # 015 makes the per-row insert trigger again, which 027 takes away (its work is the write's own since then)
    await conn.execute("DELETE FROM schema_migrations WHERE version = 27")


async def test_eprints_newest_first_with_the_submitters_handle(db: Database) -> None:
    field = "at://did:plc:gov/pub.chive.graph.node/f1"
    old = eprint(ALICE, "a", "2026-01-01T00:00:00Z")
    tie_1 = eprint(BOB, "b", "2026-02-01T00:00:00Z", publicationStatusSlug="published", fieldUris=[field, "at://x/y/z"])
    tie_2 = eprint(ALICE, "c", "2026-02-01T00:00:00Z")
    gone = eprint(ALICE, "d", "2026-03-01T00:00:00Z")
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t0", handle="alice.test", pds_url=PDS_A)
        await index.upsert_records(conn, [old, tie_1, tie_2, gone], "t0")
        await takedowns.take_down(conn, gone.uri, gone.collection, None, ADMIN, "t1")
    async with db.read() as conn:
        page, total = await content.eprints_page(conn, limit=10, offset=0)
        assert total == 3
        assert [r.uri for r in page] == [*sorted([tie_1.uri, tie_2.uri]), old.uri]
        by_uri = {r.uri: r for r in page}
        assert by_uri[tie_1.uri] == content.EprintRow(
            tie_1.uri, tie_1.cid, "Title b", BOB, None, "published", field, "t0"
        )
        assert by_uri[old.uri] == content.EprintRow(old.uri, old.cid, "Title a", ALICE, "alice.test", None, None, "t0")
        assert [r.uri for r in (await content.eprints_page(conn, limit=1, offset=2))[0]] == [old.uri]
        assert await content.eprints_page(conn, limit=5, offset=3) == ([], 3)


async def test_every_page_from_either_end_is_the_slice_its_offset_names(db: Database) -> None:
    """Pages past the middle are read from the oldest end (store/pages.py); with ties on createdAt, hidden and
    taken-down eprints among them, every page is still the slice of the whole list at its offset."""
    rows = [eprint(ALICE if i % 3 else BOB, f"e{i:02d}", f"2026-01-{1 + i // 4:02d}T00:00:00Z") for i in range(23)]
    async with db.write() as conn:
        await index.upsert_records(conn, rows, "t0")
        await takedowns.take_down(conn, rows[5].uri, rows[5].collection, None, ADMIN, "t1")
        await index.set_repo_hidden(conn, BOB, True)
    async with db.read() as conn:
        everything, total = await content.eprints_page(conn, limit=100, offset=0)
        assert total == len(everything) == len([r for i, r in enumerate(rows) if i % 3 and i != 5])
        for limit in (1, 4, 7):
            for offset in range(total + 2):
                page, _ = await content.eprints_page(conn, limit=limit, offset=offset)
                assert page == everything[offset : offset + limit], (limit, offset)


async def test_eprints_per_pds(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t0", pds_url=PDS_A)
        await index.upsert_repo(conn, BOB, "t0", pds_url=PDS_B)
        await index.upsert_records(
            conn, [eprint(ALICE, "a", "2026-01-01T00:00:00Z"), eprint(BOB, "b", "2026-01-01T00:00:00Z")], "t0"
        )
        await index.upsert_records(conn, [eprint(ALICE, "c", "2026-01-01T00:00:00Z")], "t0")
    async with db.read() as conn:
        assert await content.eprint_total(conn) == 3
        assert await content.eprint_total(conn, PDS_A) == 2
        assert await content.eprint_total(conn, PDS_B) == 1
        assert await content.eprint_total(conn, "https://elsewhere.example") == 0


@pytest.mark.parametrize("backward", [False, True])
async def test_the_eprint_page_walks_its_index(db: Database, backward: bool) -> None:
    sql = content.page_uris_sql(db.dialect, backward)
    async with db.write() as conn:
        if conn.dialect is Dialect.POSTGRES:
            # an empty table is cheaper to sort than to walk: forbid the sort to see that the index can serve
            await conn.execute("SET LOCAL enable_sort = off")
            plan = await conn.fetchall(f"EXPLAIN {sql}", (10, 0))
        else:
            plan = await conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", (10, 0))
    text = " ".join(str(row[-1]) for row in plan)
    assert "records_eprint_created" in text
    assert "TEMP B-TREE" not in text
    assert "Sort" not in text


@pytest.mark.postgres_only
async def test_a_takedown_and_its_record_written_at_once_by_two_processes(db: Database) -> None:
    """Each transaction's trigger cannot see the other's uncommitted row; the takedown trigger's lock on ``records``
    makes one wait for the other, so the counters stay right in either order."""
    first, second = eprint(ALICE, "race1", "2026-01-01T00:00:00Z"), eprint(ALICE, "race2", "2026-01-01T00:00:00Z")

    async def take_down(uri: str) -> None:
        async with db.write() as conn:
            await takedowns.take_down(conn, uri, ids.PUB_CHIVE_EPRINT_SUBMISSION, None, ADMIN, "t1")

    async def ingest(record: IndexedRecord) -> None:
        async with db.write() as conn:
            await index.upsert_records(conn, [record], "t1")

    # the record written first, the takedown while it is not committed yet
    async with db.write() as conn:
        await index.upsert_records(conn, [first], "t0")
        racing = asyncio.create_task(take_down(first.uri))
        await asyncio.sleep(0.3)
    await racing
    # the takedown first, the record while it is not committed yet
    async with db.write() as conn:
        await takedowns.take_down(conn, second.uri, second.collection, None, ADMIN, "t2")
        racing = asyncio.create_task(ingest(second))
        await asyncio.sleep(0.3)
    await racing
    assert await assert_in_step(db) == {}
