"""Activity intents in the store: counted per DID for the rate limit, failed only by their DID (the latest pending
one), confirmed only within the hour and only for their action, pruned by age."""

from __future__ import annotations

import pytest
from support.recording import RecordingConn

from chive_admin.store import activity
from chive_admin.store.db import Database

ALICE = "did:plc:storeactivityalice000000000"
BOB = "did:plc:storeactivitybob00000000000"
T = 1_800_000_000 * 1_000_000  # microseconds
COLLECTION = "pub.chive.review.comment"


def intent(name: str, did: str, rkey: str, action: str, at: int) -> activity.Intent:
    return activity.Intent(name, did, COLLECTION, rkey, action, "review_create", at)


async def statuses(db: Database) -> dict[str, str]:
    async with db.read() as conn:
        return {str(r[0]): str(r[1]) for r in await conn.fetchall("SELECT id, status FROM activity_intents")}


async def test_rate_count_failure_confirmation_and_pruning(db: Database) -> None:
    async with db.write() as conn:
        for made in (
            intent("a-old", ALICE, "k1", "create", T - activity.HOUR_US * 30 * 24),
            intent("a-1", ALICE, "k1", "create", T - 2_000_000),
            intent("a-2", ALICE, "k1", "create", T - 1_000_000),
            intent("b-1", BOB, "k1", "create", T - 1_000_000),
            intent("a-del", ALICE, "k2", "delete", T - 1_000_000),
        ):
            await activity.add(conn, made)
        assert await activity.logged_since(conn, ALICE, T - 60_000_000) == 3
        assert await activity.mark_failed(conn, ALICE, COLLECTION, "k1", "E")  # the latest pending: a-2
        assert not await activity.mark_failed(conn, ALICE, COLLECTION, "k9", "E")
        uri = f"at://{ALICE}/{COLLECTION}/k1"
        assert await activity.confirm(conn, [uri, f"at://{ALICE}/{COLLECTION}/k2"], ["create", "update"], T) == 1
        await activity.prune(conn, T - activity.HOUR_US * 7 * 24)
    assert await statuses(db) == {"a-1": "confirmed", "a-2": "failed", "b-1": "pending", "a-del": "pending"}


@pytest.mark.sqlite_only
async def test_confirming_and_counting_seek_their_indexes(db: Database) -> None:
    """Every index write confirms through the partial index of pending intents; the rate limit seeks the DID's."""
    async with db.write() as conn:
        recording = RecordingConn(conn)
        await activity.confirm(recording, [f"at://{ALICE}/{COLLECTION}/k1"], ["create", "update"], T)
        await activity.logged_since(recording, ALICE, T)
        confirm, rate = [
            "\n".join(str(row[3]) for row in await conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", args))
            for sql, args in recording.statements
        ]
    assert "USING INDEX activity_pending_by_uri (uri=?)" in confirm, confirm
    assert "USING COVERING INDEX activity_by_did (did=? AND created_us>?)" in rate, rate
