"""Where fetched records become index rows: the record index and the live search index change together, and only
what changed is written (and counted); the activity intents waiting for them are confirmed in the same write."""

from __future__ import annotations

from chive_admin.clock import micros, utc_now
from chive_admin.ingest.write import apply_records, remove_records
from chive_admin.store import activity, search
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord, UpsertResult
from chive_admin.telemetry.metrics import REGISTRY

DID = "did:plc:writewritewritewritewrite"
COMMENT = "pub.chive.review.comment"
T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"


def eprint(rkey: str, title: str) -> IndexedRecord:
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, rkey, f"cid-{title}", {"title": title})


def comment(rkey: str, text: str) -> IndexedRecord:
    return IndexedRecord.from_parts(DID, COMMENT, rkey, f"cid-{text}", {"text": text})


def ingested(collection: str) -> float:
    return REGISTRY.get_sample_value("chive_admin_records_ingested_total", {"collection": collection}) or 0.0


async def found(db: Database, text: str) -> list[str]:
    async with db.read() as conn:
        return await search.search(conn, text)


async def test_new_and_changed_records_reach_both_indexes_unchanged_ones_neither(db: Database) -> None:
    first = [eprint("e1", "Graph colouring"), eprint("e2", "Proof nets"), comment("c1", "nice")]
    before = ingested(search.EPRINT_COLLECTION), ingested(COMMENT)
    async with db.write() as conn:
        assert await apply_records(conn, first, T0) == UpsertResult(inserted=3)
    assert await found(db, "colouring") == [first[0].uri]
    assert await found(db, "nice") == []  # only eprints are searched
    # e1 changed, e2 and c1 did not
    second = [eprint("e1", "Graph labelling"), eprint("e2", "Proof nets"), comment("c1", "nice")]
    async with db.write() as conn:
        assert await apply_records(conn, second, T1) == UpsertResult(updated=1, unchanged=2)
    assert await found(db, "colouring") == []
    assert await found(db, "labelling") == [first[0].uri]
    assert await found(db, "proof") == [first[1].uri]
    # counted as written: three the first time, the one changed eprint the second
    assert (ingested(search.EPRINT_COLLECTION) - before[0], ingested(COMMENT) - before[1]) == (3, 1)


async def test_removed_records_leave_both_indexes(db: Database) -> None:
    records = [eprint("e1", "Graph colouring"), comment("c1", "nice")]
    async with db.write() as conn:
        await apply_records(conn, records, T0)
        assert await remove_records(conn, [r.uri for r in records] + [f"at://{DID}/{COMMENT}/never-there"]) == 2
        assert await remove_records(conn, []) == 0
    async with db.read() as conn:
        assert [tuple(row) for row in await conn.fetchall("SELECT count(*) FROM records")] == [(0,)]
        assert await search.count(conn) == 0
    assert await found(db, "colouring") == []


async def intent_states(db: Database) -> dict[str, tuple[str, int | None]]:
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT id, status, confirmed_us FROM activity_intents")
    return {str(r[0]): (str(r[1]), None if r[2] is None else int(r[2])) for r in rows}


async def test_records_arriving_confirm_the_pending_intents_on_them(db: Database) -> None:
    logged = micros(utc_now()) - 1_500_000  # a second and a half before the write
    paper, note = eprint("e1", "Paper"), comment("c1", "note")

    def intent(name: str, record: IndexedRecord, action: str, at: int = logged) -> activity.Intent:
        return activity.Intent(name, DID, record.collection, record.uri.rsplit("/", 1)[1], action, "x", at)

    async with db.write() as conn:
        for made in (
            intent("create", paper, "create"),
            intent("update-of-other", note, "update"),
            intent("late", note, "create", logged - activity.CONFIRM_WINDOW_US),  # logged over an hour before
            intent("delete", paper, "delete"),
        ):
            await activity.add(conn, made)
        await apply_records(conn, [paper, note], "t0")  # the batch's stamp is the caller's: not the clock read
    states = await intent_states(db)
    assert states["create"][0] == states["update-of-other"][0] == "confirmed"
    latency = states["create"][1] - logged  # type: ignore[operator]
    assert 1_500_000 <= latency < 60_000_000
    assert states["late"] == ("pending", None)  # timed out: the window is an hour
    assert states["delete"] == ("pending", None)  # the record arrived; its deletion has not
    async with db.write() as conn:
        await apply_records(conn, [paper], "t1")  # unchanged: nothing arrived, nothing confirmed
        await remove_records(conn, [paper.uri])
    assert (await intent_states(db))["delete"][0] == "confirmed"
