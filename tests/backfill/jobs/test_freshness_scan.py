"""freshness-scan resuming from what the previous version stored (checking against a real PDS is in
tests/interop/backfill/test_freshness_scan.py)."""

from __future__ import annotations

import pytest
from conftest import AppFactory, running_client
from pydantic import ValidationError
from support.auth import FixedTokens
from support.cars import DID
from support.engine import engine_config
from support.pds import ScriptedPds
from support.resume import ended, left_off
from support.scripted import Answer
from support.served import Served

from chive_admin._generated import ids
from chive_admin.backfill.jobs.freshness_scan import LIST_THRESHOLD, FreshnessParams
from chive_admin.ingest.write import apply_records
from chive_admin.store import dead_letters
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
    async for _ in running_client(app):
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


EPRINT = "at://did:plc:authorauthorauthorauthora/pub.chive.eprint.submission/3kaaaaaaaaaaa"


def rkey(n: int) -> str:
    return f"3k{n:011d}"


async def indexed(pds: ScriptedPds, served: Served, count: int) -> list[str]:
    """``count`` comments of ``DID`` on the PDS, indexed by a did-sync; their URIs."""
    uris = [pds.put(DID, records.COMMENT, rkey(n), comment(f"comment {n}")) for n in range(count)]
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": DID}))["status"] == "completed"
    pds.seen.clear()
    return uris


def test_the_tier_is_one_of_four_and_all_by_default() -> None:
    assert FreshnessParams.model_validate({}).tier == "all"
    for tier in ("hot", "warm", "cold", "all"):
        assert FreshnessParams.model_validate({"tier": tier}).normalised() == {"tier": tier}
    with pytest.raises(ValidationError):
        FreshnessParams.model_validate({"tier": "lukewarm"})


async def test_a_change_upstream_is_mirrored_and_the_rest_only_verified(pds: ScriptedPds, served: Served) -> None:
    uris = await indexed(pds, served, 5)
    changed = comment("edited upstream")
    pds.put(DID, records.COMMENT, rkey(1), changed)
    pds.delete(DID, records.COMMENT, rkey(2))
    verified_before = dict(await served.rows("SELECT uri, verified_at FROM records"))
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN, {"tier": "all"})
    assert (op["status"], op["totalRecords"], op["recordsProcessed"]) == ("completed", 5, 5)
    assert op["counts"] == {"checked": 5, "unchanged": 3, "updated": 1, "deleted": 1}
    # fewer records than make a listing worth it: each one is read on its own
    assert pds.seen.count(ids.COM_ATPROTO_REPO_GET_RECORD) == 5
    assert ids.COM_ATPROTO_REPO_LIST_RECORDS not in pds.seen
    after = dict(await served.rows("SELECT uri, verified_at FROM records"))
    assert set(after) == set(uris) - {uris[2]}
    assert all(after[uri] > verified_before[uri] for uri in after)  # every checked record re-verified
    [(text,)] = await served.rows("SELECT json_extract(value, '$.body[0].content') FROM records WHERE uri = ?", uris[1])
    assert text == "edited upstream"


async def test_a_collection_with_many_records_to_check_is_listed_once(pds: ScriptedPds, served: Served) -> None:
    await indexed(pds, served, LIST_THRESHOLD + 5)
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN)
    assert op["counts"] == {"checked": LIST_THRESHOLD + 5, "unchanged": LIST_THRESHOLD + 5, "updated": 0, "deleted": 0}
    assert ids.COM_ATPROTO_REPO_GET_RECORD not in pds.seen
    assert ids.COM_ATPROTO_REPO_LIST_RECORDS in pds.seen


async def test_a_hot_tier_leaves_records_verified_within_the_hour(pds: ScriptedPds, served: Served) -> None:
    await indexed(pds, served, 3)
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN, {"tier": "hot"})
    assert (op["status"], op["totalRecords"], op["recordsProcessed"]) == ("completed", 0, 0)
    assert pds.seen == []  # nothing to check: the PDS was not asked anything


async def test_a_repository_no_longer_served_is_hidden(pds: ScriptedPds, served: Served) -> None:
    await indexed(pds, served, 3)
    pds.repo(DID).status = "deactivated"
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN)
    assert (op["status"], op["counts"]) == ("completed", {"checked": 3, "hidden": 3})
    assert await served.rows("SELECT count(*), sum(hidden) FROM records") == [(3, 3)]
    assert await served.rows("SELECT status FROM repos") == [("deactivated",)]
    pds.repo(DID).status = None  # served again: the next scan shows its records again
    again = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN)
    assert again["counts"]["unchanged"] == 3
    assert await served.rows("SELECT count(*), sum(hidden) FROM records") == [(3, 0)]
    assert await served.rows("SELECT status FROM repos") == [("active",)]


async def test_a_repository_that_cannot_be_checked_is_dead_lettered_and_keeps_its_records(
    pds: ScriptedPds, served: Served
) -> None:
    await indexed(pds, served, 2)
    pds.overrides[ids.COM_ATPROTO_REPO_GET_RECORD] = Answer(503, b'{"error":"ServiceUnavailable"}')
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN)
    assert (op["status"], op["recordsFailed"], op["counts"]) == ("partial", 1, {"checked": 2, "unverified": 2})
    [(error_type, item)] = await served.rows("SELECT error_type, item FROM dead_letters")
    assert error_type == "verify_failed"
    assert item == f'{{"did":"{DID}","kind":"repo"}}'
    assert await served.rows("SELECT count(*), sum(hidden) FROM records") == [(2, 0)]
