"""Retrying one dead-lettered record: fetched again from its PDS, indexed and counted in one batch if it is valid
now, forgotten if it is gone, left in the queue if it is still invalid."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import pytest
from support.pds import ScriptedPds, cid_of

from chive_admin.ingest.retry_record import StillInvalid, retry_record
from chive_admin.ingest.write import apply_records
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord
from chive_admin.store.operations import Progress
from chive_admin.store.sql import Conn
from chive_admin.upstream.atproto import AtprotoClient
from testnet import records

DID = "did:plc:retryretryretryretryretry"
RKEY = "3kaaaaaaaaaa1"
VALID = records.review_comment(
    eprint_uri=f"at://{DID}/{records.SUBMISSION}/3kbbbbbbbbbb1", created_at="2026-01-01T00:00:00.000Z"
)


@dataclass
class Batches:
    """Where a retried record is written: each batch one write transaction, as a job context's."""

    db: Database
    progress: Progress = field(default_factory=Progress)

    def batch(self) -> AbstractAsyncContextManager[Conn]:
        return self.db.write()


async def stored(db: Database) -> list[tuple[str, str]]:
    async with db.read() as conn:
        return [(str(uri), str(cid)) for uri, cid in await conn.fetchall("SELECT uri, cid FROM records")]


async def test_a_record_valid_now_is_indexed_and_counted(
    pds: ScriptedPds, upstream: AtprotoClient, db: Database
) -> None:
    uri = pds.put(DID, records.COMMENT, RKEY, VALID)
    target = Batches(db)
    await retry_record(upstream, target, uri, pds.url)
    assert await stored(db) == [(uri, cid_of(VALID))]
    assert target.progress.records_processed == 1


async def test_a_record_still_invalid_stays_out_and_says_why(
    pds: ScriptedPds, upstream: AtprotoClient, db: Database
) -> None:
    uri = pds.put(DID, records.COMMENT, RKEY, {**VALID, "body": "not a list"})
    target = Batches(db)
    with pytest.raises(StillInvalid, match="body"):
        await retry_record(upstream, target, uri, pds.url)
    assert await stored(db) == []
    assert target.progress.records_processed == 0


async def test_a_record_gone_upstream_is_removed_from_the_index(
    pds: ScriptedPds, upstream: AtprotoClient, db: Database
) -> None:
    pds.repo(DID)
    uri = f"at://{DID}/{records.COMMENT}/{RKEY}"
    async with db.write() as conn:  # indexed by an earlier sync
        await apply_records(
            conn,
            [IndexedRecord.from_parts(DID, records.COMMENT, RKEY, "cid-old", VALID)],
            "2026-01-01T00:00:00.000000Z",
        )
    target = Batches(db)
    await retry_record(upstream, target, uri, pds.url)
    assert await stored(db) == []
    assert target.progress.records_processed == 0  # nothing was processed: there was nothing left to index
