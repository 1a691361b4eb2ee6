"""freshness-scan resuming from what the previous version stored (checking against a real PDS is in
tests/interop/backfill/test_freshness_scan.py)."""

from __future__ import annotations

import asyncio
import json
import threading

from conftest import AppFactory, running_client
from starlette.requests import Request
from support.auth import FixedTokens
from support.engine import engine_config
from support.resume import ended, left_off
from support.scripted import Answer, scripted_server

from chive_admin.clock import now_stamp
from chive_admin.ingest.write import apply_records
from chive_admin.store import dead_letters, index, operations
from chive_admin.store.index import IndexedRecord
from testnet import records

FIRST = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
SECOND = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
VERIFIED = "2026-01-01T00:00:00.000000Z"


def comment(did: str, n: int) -> IndexedRecord:
    value = records.review_comment(eprint_uri=records.at_uri(did, records.SUBMISSION, "e1"))
    return IndexedRecord.from_parts(did, records.COMMENT, f"3kc{n}", f"cid{n}", value)


async def test_a_scan_stored_by_the_previous_version_resumes_after_its_last_repository(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async with running_client(app) as _:
        async with app.state.services.db.write() as conn:
            # repositories whose PDS is not known: each one checked is dead-lettered, none asks the network
            await apply_records(conn, [comment(FIRST, 1), comment(SECOND, 2), comment(SECOND, 3)], VERIFIED)
        # the JSON the previous version stored once it was done with the first repository
        stored = {"before": "2026-06-01T00:00:00.000000Z", "after": FIRST}
        op_id = await left_off(app, "freshness-scan", {"tier": "all"}, stored)
        op = await ended(app, op_id)
        async with app.state.services.db.read() as conn:
            parked, _ = await dead_letters.page(conn, 10, 0)
    assert (op.status, op.attempts, op.progress.records_processed) == ("partial", 2, 2)
    assert op.checkpoint == {"before": "2026-06-01T00:00:00.000000Z", "after": SECOND}
    assert [(e.error_type, e.item) for e in parked] == [("no_pds", {"kind": "repo", "did": SECOND})]


async def test_records_fetched_while_a_live_commit_moved_the_head_are_not_written(make_app: AppFactory) -> None:
    listing_started, go_on = threading.Event(), threading.Event()
    stale = comment(FIRST, 1)

    def answer(request: Request) -> Answer:
        """The PDS: the record as it was before the live commit (another CID)."""
        listing_started.set()
        go_on.wait(30)
        body = {"uri": stale.uri, "cid": "bafyreiolderversion", "value": stale.value}
        return Answer(200, json.dumps(body).encode())

    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    with scripted_server() as (url, script):
        script.default = answer
        async with running_client(app) as _:
            db = app.state.services.db
            async with db.write() as conn:
                await apply_records(conn, [stale], VERIFIED)
                await index.upsert_repo(conn, FIRST, now_stamp(), pds_url=url, rev="3kaaaaaaaaa22")
            op_id = await left_off(app, "freshness-scan", {"tier": "all"}, {"before": "2026-06-01T00:00:00.000000Z"})
            await asyncio.to_thread(listing_started.wait, 30)
            # the live indexer applies a newer commit of the repository while its record is being fetched
            async with db.write() as conn:
                await index.set_repo_head(conn, FIRST, "3kbbbbbbbbb22", "bafyreidata", now_stamp())
            go_on.set()
            op = await ended(app, op_id)
            async with db.read() as conn:
                held = await index.record_cids(conn, FIRST)
                ops = await operations.list_active(conn, 10) + await operations.history(conn, 10)
    assert op.status == "completed"
    assert op.progress.counts.get("resynced") == 1
    assert held == {stale.uri: stale.cid}  # not overwritten with what was fetched
    assert any(o.type == "did-sync" and o.params == {"did": FIRST} for o in ops)
