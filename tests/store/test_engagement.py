"""Engagement rollups: a viewer counts once per eprint and hour, counts land in their UTC hour, per eprint, summed
over all, and all-time; pruning keeps the retention period and only the current hours' viewers; search impressions
and their clicks count once each; trending ranks on a constructed history with known answers."""

from __future__ import annotations

import pytest
from support.engagement import views
from support.recording import RecordingConn

from chive_admin._generated import ids
from chive_admin.store import engagement, index, takedowns
from chive_admin.store.db import Database
from chive_admin.store.engagement import Event
from chive_admin.store.index import IndexedRecord

ALICE = "did:plc:engagementalice000000000000"
H = 490_000  # an hour since the epoch (late 2025)


def submission(rkey: str, title: str | None = None) -> IndexedRecord:
    value = {"title": title or f"On {rkey}", "submittedBy": ALICE, "createdAt": "2026-01-01T00:00:00.000Z"}
    return IndexedRecord.from_parts(ALICE, ids.PUB_CHIVE_EPRINT_SUBMISSION, rkey, f"bafy{rkey}", value)


A, B, C = submission("a"), submission("b"), submission("c")


async def seeded(db: Database) -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t0", handle="alice.test")
        await index.upsert_records(conn, [A, B, C], "t0")


async def test_a_viewer_counts_once_per_eprint_and_hour(db: Database) -> None:
    async with db.write() as conn:
        first = await engagement.record(
            conn,
            [
                Event(A.uri, "view", H, "v1"),
                Event(A.uri, "view", H, "v1"),  # the same viewer again in the batch
                Event(A.uri, "view", H, "v2"),
                Event(A.uri, "download", H, "v1"),  # a download is not a view
                Event(B.uri, "view", H, "v1"),
            ],
        )
        again = await engagement.record(conn, [Event(A.uri, "view", H, "v1"), Event(A.uri, "view", H + 1, "v1")])
        assert first == [True, False, True, True, True]
        assert again == [False, True]  # a later transaction, same hour: a repeat; the next hour counts
        series = await engagement.hourly_series(conn, A.uri, H - 5, H + 5)
        assert [(s.hour, s.views, s.downloads) for s in series] == [(H, 2, 1), (H + 1, 1, 0)]
        overall = await engagement.hourly_series(conn, None, H, H + 1)
        assert [(s.hour, s.views, s.downloads) for s in overall] == [(H, 3, 1), (H + 1, 1, 0)]
        assert await engagement.all_time(conn, [A.uri, B.uri, C.uri]) == {A.uri: (3, 1), B.uri: (1, 0)}


async def test_pruning_keeps_the_retention_period_and_the_current_viewers(db: Database) -> None:
    now = H + engagement.RETENTION_HOURS + 10
    old, kept = now - engagement.RETENTION_HOURS - 1, now - engagement.RETENTION_HOURS
    async with db.write() as conn:
        await engagement.record(
            conn,
            [Event(A.uri, "view", hour, "v") for hour in (old, kept, now - 2, now - 1, now)],
        )
        await engagement.record_impression(conn, "old", 3, now - engagement.IMPRESSION_HOURS - 1)
        await engagement.record_impression(conn, "new", 3, now - engagement.IMPRESSION_HOURS)
        await engagement.prune(conn, now)
        hours = [s.hour for s in await engagement.hourly_series(conn, A.uri, 0, now)]
        assert hours == [kept, now - 2, now - 1, now]
        assert [s.hour for s in await engagement.hourly_series(conn, None, 0, now)] == hours
        seen = await conn.fetchall("SELECT hour FROM engagement_seen ORDER BY hour")
        assert [int(r[0]) for r in seen] == [now - 1, now]  # the hour just over, and this one
        assert await engagement.all_time(conn, [A.uri]) == {A.uri: (5, 0)}  # all-time totals are never pruned
        assert not await engagement.impression_known(conn, "old")
        assert await engagement.impression_known(conn, "new")


async def test_search_events_count_once_per_result(db: Database) -> None:
    async with db.write() as conn:
        assert await engagement.record_impression(conn, "imp-1", 10, H)
        assert not await engagement.record_impression(conn, "imp-1", 10, H)
        assert await engagement.record_impression(conn, "imp-2", 0, H + 1)
        assert await engagement.record_search_event(conn, "imp-1", "click", A.uri, H)
        assert not await engagement.record_search_event(conn, "imp-1", "click", A.uri, H)
        assert await engagement.record_search_event(conn, "imp-1", "click", B.uri, H)
        assert await engagement.record_search_event(conn, "imp-1", "dwell", A.uri, H, 1500)
        assert await engagement.search_totals(conn) == engagement.SearchTotals(impressions=2, clicks=2)
        row = await conn.fetchone("SELECT count, total_ms FROM search_hourly WHERE kind = 'dwell'")
        assert row is not None
        assert (int(row[0]), int(row[1])) == (1, 1500)


async def test_only_visible_eprints_are_found(db: Database) -> None:
    await seeded(db)
    review = IndexedRecord.from_parts(ALICE, ids.PUB_CHIVE_REVIEW_COMMENT, "r", "bafyr", {"text": "x"})
    async with db.write() as conn:
        await index.upsert_records(conn, [review], "t0")
        await takedowns.take_down(conn, C.uri, C.collection, None, ALICE, "t1")
        found = await engagement.indexed_eprints(conn, [A.uri, A.uri, review.uri, C.uri, "at://did:plc:x/y/z"])
    assert found == {A.uri}


async def test_trending_on_a_constructed_history(db: Database) -> None:
    await seeded(db)
    now = H
    # window 24 h against a 7-day baseline (168 h), and one window back
    await views(
        db,
        {
            # A: 10 views in the window, 6 more in the rest of the baseline (2 of them in the previous window),
            # 4 more in the previous window's baseline
            A.uri: {now: 6, now - 23: 4, now - 100: 4, now - 30: 2, now - 180: 4},
            # B: 7 views, all in the window: the fastest possible, 7x the baseline's daily average
            B.uri: {now - 1: 7},
            # C: viewed only before the window: not trending
            C.uri: {now - 50: 9},
        },
    )
    async with db.write() as conn:
        await engagement.record(conn, [Event(B.uri, "download", now, "d1"), Event(A.uri, "download", now - 30, "d")])
        rows = await engagement.trending(conn, now, 24, 168, 10)
    assert [r.uri for r in rows] == [B.uri, A.uri]
    b, a = rows
    assert (b.views, b.baseline_views, b.previous_views, b.previous_baseline_views, b.downloads) == (7, 7, 0, 0, 1)
    # A's previous window is hours (now-47 … now-24]; its baseline (now-191 … now-24]
    assert (a.views, a.baseline_views, a.previous_views, a.previous_baseline_views, a.downloads) == (10, 16, 2, 10, 0)
    assert a.title == "On a"
    assert a.submitted_by == ALICE
    async with db.write() as conn:
        assert [r.uri for r in await engagement.trending(conn, now, 24, 168, 1)] == [B.uri]
        top = await engagement.top_eprints(conn, now - 167, now, 10)
    assert [(t.uri, t.views, t.downloads) for t in top] == [(A.uri, 16, 1), (C.uri, 9, 0), (B.uri, 7, 1)]
    assert top[0].handle == "alice.test"


@pytest.mark.sqlite_only
async def test_reads_and_writes_go_through_indexes(db: Database) -> None:
    """The series of one eprint seeks its primary key, the windows read the hour index alone (covering), the
    totals of a page seek theirs: none scans a table."""
    async with db.write() as conn:
        recording = RecordingConn(conn)
        await engagement.hourly_series(recording, A.uri, H - 24, H, 24, 0)
        await engagement.trending(recording, H, 24, 168, 10)
        await engagement.top_eprints(recording, H - 24, H, 10)
        await engagement.all_time(recording, [A.uri, B.uri])
        plans = [
            "\n".join(str(row[3]) for row in await conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", args))
            for sql, args in recording.statements
        ]
    series, trending, top, totals = plans
    assert "SEARCH engagement_hourly USING PRIMARY KEY (uri=?" in series, series
    for plan in (trending, top):
        assert "USING COVERING INDEX engagement_hourly_by_hour (hour>? AND hour<?)" in plan, plan
        assert "SCAN engagement_hourly" not in plan, plan
    assert "SEARCH engagement_totals USING PRIMARY KEY (uri=?)" in totals, totals
