"""Accounts: prefix search on the verified handle or the DID (no wildcard in the query), only accounts we hold
something visible of, and their counts, profile name and roles read in a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from support.recording import RecordingConn

from chive_admin._generated import ids
from chive_admin.store import index, roles, takedowns, users
from chive_admin.store.db import Database, bundled_migrations
from chive_admin.store.index import IndexedRecord
from chive_admin.store.sql import Dialect

ALICE = "did:plc:alice00000000000000000000"
ALBERT = "did:plc:albert0000000000000000000"
HIDDEN = "did:plc:hidden0000000000000000000"
EMPTY = "did:plc:empty00000000000000000000"


def record(did: str, collection: str, rkey: str, value: dict[str, Any]) -> IndexedRecord:
    return IndexedRecord.from_parts(did, collection, rkey, f"c-{rkey}", value)


async def seed(db: Database) -> list[IndexedRecord]:
    eprint = f"at://{ALICE}/{ids.PUB_CHIVE_EPRINT_SUBMISSION}/e1"
    rows = [
        record(ALICE, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e1", {"submittedBy": ALICE}),
        record(ALICE, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e2", {"submittedBy": ALICE}),
        # posted by Alice for Albert: it counts as Albert's
        record(ALICE, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e3", {"submittedBy": ALBERT}),
        record(ALICE, ids.PUB_CHIVE_REVIEW_COMMENT, "r1", {"eprintUri": eprint}),
        record(ALICE, ids.PUB_CHIVE_REVIEW_COMMENT, "r2", {"eprintUri": eprint}),
        record(ALICE, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, "n1", {"eprintUri": eprint}),
        record(ALICE, ids.PUB_CHIVE_ACTOR_PROFILE, "self", {"displayName": "Alice A."}),
        record(ALBERT, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, "n2", {"eprintUri": eprint}),
        record(HIDDEN, ids.PUB_CHIVE_REVIEW_COMMENT, "r3", {"eprintUri": eprint}),
    ]
    async with db.write() as conn:
        await index.upsert_repo(conn, ALICE, "2026-01-01T00:00:00.000Z", handle="Alice.Test", pds_url="http://p")
        await index.upsert_repo(conn, ALBERT, "2026-01-02T00:00:00.000Z", handle="albert.test", pds_url="http://p")
        await index.upsert_repo(conn, HIDDEN, "2026-01-03T00:00:00.000Z", handle="alina.test", pds_url="http://p")
        await index.upsert_repo(conn, EMPTY, "2026-01-04T00:00:00.000Z", handle="alfie.test", pds_url="http://p")
        await index.upsert_records(conn, rows, "2026-01-05T00:00:00.000Z")
        await index.set_repo_hidden(conn, HIDDEN, True)
        await roles.grant(conn, ALICE, "moderator", None, "t")
        # a takedown of one of Alice's reviews: not counted
        await takedowns.take_down(conn, rows[4].uri, rows[4].collection, None, "did:plc:admin", "t")
    return rows


async def test_find_by_handle_or_did_prefix_among_visible_accounts(db: Database) -> None:
    await seed(db)
    async with db.read() as conn:
        # stored lowercased; the hidden repository and the one without records are no accounts
        assert await users.find(conn, "al", 10) == [ALBERT, ALICE]
        assert await users.find(conn, "al", 1) == [ALBERT]
        assert await users.find(conn, "alice.test", 10) == [ALICE]
        assert await users.find(conn, "did:plc:al", 10) == [ALBERT, ALICE]
        assert await users.find(conn, ALICE, 10) == [ALICE]
        # no wildcard: "%" and "_" match only themselves
        for literal in ("%", "_", "al%", "a_ice", "\\"):
            assert await users.find(conn, literal, 10) == [], literal
        assert await users.find(conn, "", 10) == []
        assert await users.find(conn, "bob", 10) == []


async def test_accounts_counts_profile_and_roles(db: Database) -> None:
    await seed(db)
    async with db.read() as conn:
        found = await users.accounts(conn, [ALICE, HIDDEN, EMPTY, ALBERT, "did:plc:unknown"])
    assert found == [
        users.Account(
            ALICE,
            "alice.test",
            "2026-01-01T00:00:00.000Z",
            display_name="Alice A.",
            eprints=2,
            reviews=1,
            endorsements=1,
            roles={"moderator"},
        ),
        users.Account(ALBERT, "albert.test", "2026-01-02T00:00:00.000Z", eprints=1, endorsements=1),
    ]


async def test_a_hundred_accounts_take_a_fixed_number_of_queries(db: Database) -> None:
    dids = [f"did:plc:many{i:022d}" for i in range(100)]
    async with db.write() as conn:
        for did in dids:
            await index.upsert_repo(conn, did, "t", handle=f"many{did[-3:]}.test")
        await index.upsert_records(
            conn, [record(did, ids.PUB_CHIVE_REVIEW_COMMENT, "r", {"eprintUri": "at://x/y/z"}) for did in dids], "t"
        )
    async with db.read() as conn:
        recording = RecordingConn(conn)
        found = await users.accounts(recording, await users.find(recording, "many", 100))
        plans = await recording.sqlite_plans() if db.dialect is Dialect.SQLITE else []
    assert [a.did for a in found] == dids
    assert all(a.reviews == 1 for a in found)
    assert len(recording.statements) == 7  # two searches, the accounts, two counts, the profiles, the roles
    for (sql, _), plan in zip(recording.statements, plans, strict=False):  # each a search of an index, no scan
        assert not [step for step in plan if step.startswith("SCAN")], (sql, plan)
        assert "TEMP B-TREE FOR ORDER BY" not in " ".join(plan), (sql, plan)


async def test_migration_016_fills_first_seen_and_drops_unverified_handles(db: Database) -> None:
    """A repository indexed before 016: first seen when its first record was indexed (else its last update), and
    the handle an ingest path stored unchecked is dropped."""
    [migration] = [m for m in bundled_migrations(db.dialect) if m.name == "users"]
    async with db.write() as conn:  # the schema as 015 left it, and rows written then
        for name in ("repos_handle", "records_submitted_by", "records_comment_created", "records_endorsement_created"):
            await conn.execute(f"DROP INDEX {name}")
        await conn.execute("ALTER TABLE repos DROP COLUMN first_seen_at")
        await conn.execute("DELETE FROM schema_migrations WHERE version = ?", (migration.version,))
        for did, updated in ((ALICE, "2026-05-01T00:00:00.000Z"), (ALBERT, "2026-06-01T00:00:00.000Z")):
            await conn.execute(
                "INSERT INTO repos (did, handle, status, updated_at) VALUES (?, 'Claimed.Test', 'active', ?)",
                (did, updated),
            )
        for stamp, rkey in (("2026-03-01T00:00:00.000Z", "b"), ("2026-02-01T00:00:00.000Z", "a")):
            await index.upsert_records(conn, [record(ALICE, ids.PUB_CHIVE_REVIEW_COMMENT, rkey, {})], stamp)
    await db.migrate(bundled_migrations(db.dialect))
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT did, handle, first_seen_at FROM repos ORDER BY did")
    assert [tuple(row) for row in rows] == [
        (ALBERT, None, "2026-06-01T00:00:00.000Z"),
        (ALICE, None, "2026-02-01T00:00:00.000Z"),
    ]


@pytest.mark.postgres_only
async def test_postgresql_can_use_the_handle_and_submitter_indexes(db: Database) -> None:
    """With sequential scans priced out, the handle prefix is a range of repos_handle and the eprint count a lookup
    of records_submitted_by: the queries' expressions are the indexes'."""
    await seed(db)
    async with db.write() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        recording = RecordingConn(conn)
        await users.accounts(recording, await users.find(recording, "al", 10))
        plans = [
            " ".join(str(row[0]) for row in await conn.fetchall(f"EXPLAIN {sql}", args))
            for sql, args in recording.statements
        ]
    assert "repos_handle" in plans[0], plans[0]
    [submitted] = [plan for (sql, _), plan in zip(recording.statements, plans, strict=True) if "submittedBy" in sql]
    assert "records_submitted_by" in submitted, submitted
