"""Pages of reviews and endorsements: visible ones only, newest first by the record's createdAt then uri, the
verified handle of the repository, the total under the same filter, read from the collection's index."""

from __future__ import annotations

import pytest
from support.recording import RecordingConn

from chive_admin._generated import ids
from chive_admin.store import index, reviews, takedowns
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord

ALICE = "did:plc:alice00000000000000000000"
BOB = "did:plc:bob0000000000000000000000"
EPRINT = f"at://{ALICE}/{ids.PUB_CHIVE_EPRINT_SUBMISSION}/e1"


def review(did: str, rkey: str, created: str, collection: str = ids.PUB_CHIVE_REVIEW_COMMENT) -> IndexedRecord:
    value = {"eprintUri": EPRINT, "createdAt": created, "body": []}
    return IndexedRecord.from_parts(did, collection, rkey, f"c-{rkey}", value)


async def test_newest_first_then_uri_visible_only_with_handles(db: Database) -> None:
    rows = [
        review(ALICE, "a1", "2026-01-01T00:00:00.000Z"),
        review(ALICE, "a2", "2026-03-01T00:00:00.000Z"),
        review(BOB, "b1", "2026-03-01T00:00:00.000Z"),  # same createdAt as a2: uri descending breaks the tie
        review(BOB, "b2", "2026-02-01T00:00:00.000Z"),
        review(BOB, "gone", "2026-04-01T00:00:00.000Z"),
        review(ALICE, "e1", "2026-05-01T00:00:00.000Z", ids.PUB_CHIVE_REVIEW_ENDORSEMENT),
    ]
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t", handle="alice.test")
        await index.upsert_repo(conn, BOB, "t")  # no verified handle
        await index.upsert_records(conn, rows, "t")
        await takedowns.take_down(conn, rows[4].uri, rows[4].collection, None, "did:plc:admin", "t")
    async with db.read() as conn:
        entries, total = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=10, offset=0)
        assert total == 4
        assert entries == [
            reviews.Entry(rows[2].uri, BOB, None, EPRINT, "2026-03-01T00:00:00.000Z"),
            reviews.Entry(rows[1].uri, ALICE, "alice.test", EPRINT, "2026-03-01T00:00:00.000Z"),
            reviews.Entry(rows[3].uri, BOB, None, EPRINT, "2026-02-01T00:00:00.000Z"),
            reviews.Entry(rows[0].uri, ALICE, "alice.test", EPRINT, "2026-01-01T00:00:00.000Z"),
        ]
        page, total = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=2, offset=2)
        assert ([e.uri for e in page], total) == ([rows[3].uri, rows[0].uri], 4)
        assert await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=2, offset=9) == ([], 4)
        endorsements, total = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, limit=10, offset=0)
        assert ([e.uri for e in endorsements], total) == ([rows[5].uri], 1)
    async with db.write() as conn:
        await index.set_repo_hidden(conn, BOB, True)
    async with db.read() as conn:
        entries, total = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=10, offset=0)
        assert ([e.uri for e in entries], total) == ([rows[1].uri, rows[0].uri], 2)
        with pytest.raises(ValueError, match="no createdAt index"):
            await reviews.page(conn, ids.PUB_CHIVE_EPRINT_SUBMISSION, limit=1, offset=0)


async def test_every_page_from_either_end_is_the_slice_its_offset_names(db: Database) -> None:
    """Pages past the middle are read from the oldest end (store/pages.py); with createdAt ties and a taken-down
    review among them, every page is the slice of the whole list at its offset."""
    rows = [review(ALICE if i % 2 else BOB, f"r{i:02d}", f"2026-01-{1 + i // 3:02d}T00:00:00.000Z") for i in range(17)]
    async with db.write() as conn:
        await index.upsert_records(conn, rows, "t")
        await takedowns.take_down(conn, rows[8].uri, rows[8].collection, None, "did:plc:admin", "t")
    async with db.read() as conn:
        everything, total = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=100, offset=0)
        assert total == len(everything) == 16
        for limit in (1, 3, 5):
            for offset in range(total + 2):
                page, _ = await reviews.page(conn, ids.PUB_CHIVE_REVIEW_COMMENT, limit=limit, offset=offset)
                assert page == everything[offset : offset + limit], (limit, offset)


@pytest.mark.sqlite_only
async def test_page_and_total_are_read_from_the_collection_index(db: Database) -> None:
    async with db.read() as conn:
        recording = RecordingConn(conn)
        await reviews.page(recording, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, limit=5, offset=5)
        total, page = await recording.sqlite_plans()
    # the total from the content totals (t), not a count of records
    assert [step for step in total if step.startswith("SEARCH t USING PRIMARY KEY")], total
    assert not [step for step in total if step.split()[1] == "r"], total
    # the offset walked in the index, no record read but the page's
    assert "records_endorsement_created" in " ".join(page), page
    assert not [step for step in page if step.startswith("SCAN r")], page
    async with db.read() as conn:
        recording = RecordingConn(conn)
        after = reviews.Position("2026-01-01T00:00:00.000Z", f"at://{ALICE}/{ids.PUB_CHIVE_REVIEW_ENDORSEMENT}/x")
        await reviews.page(recording, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, limit=5, after=after)
        _, seek = await recording.sqlite_plans()
    # a position is a range of the same index: (createdAt, uri) below it
    assert [step for step in seek if "records_endorsement_created" in step and "<" in step], seek


@pytest.mark.postgres_only
async def test_postgresql_can_read_the_page_and_total_from_the_index(db: Database) -> None:
    """With sequential scans and sorts priced out, PostgreSQL still answers from the createdAt index: its expression
    (under COLLATE "C") is the one the queries order by."""
    async with db.write() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_sort = off")
        recording = RecordingConn(conn)
        await reviews.page(recording, ids.PUB_CHIVE_REVIEW_COMMENT, limit=5, offset=5)
        total, page = [
            " ".join(str(row[0]) for row in await conn.fetchall(f"EXPLAIN {sql}", args))
            for sql, args in recording.statements
        ]
    assert "content_totals" in total, total  # the totals, not the records
    assert "records" not in total.replace("content_totals", ""), total
    # the offset walked in index order (backward: newest first), no sort below the limit
    assert "Index Scan Backward using records_comment_created" in page, page
    assert "Seq Scan on records" not in total + page


@pytest.mark.postgres_only
async def test_postgresql_seeks_a_position_in_the_index(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_sort = off")
        recording = RecordingConn(conn)
        after = reviews.Position("2026-01-01T00:00:00.000Z", f"at://{ALICE}/{ids.PUB_CHIVE_REVIEW_COMMENT}/x")
        await reviews.page(recording, ids.PUB_CHIVE_REVIEW_COMMENT, limit=5, after=after)
        sql, args = recording.statements[-1]
        plan = "\n".join(str(row[0]) for row in await conn.fetchall(f"EXPLAIN {sql}", args))
    # the position bounds the index scan itself (an Index Cond), not a filter over the whole collection
    assert "Index Scan Backward using records_comment_created" in plan, plan
    cond = [line for line in plan.splitlines() if "Index Cond" in line and "<=" in line]
    assert cond, plan
