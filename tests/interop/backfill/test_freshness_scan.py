"""freshness-scan against a real PDS: an update, a delete and a deactivation upstream are mirrored by one scan;
tiers select records by when they were last verified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop.ops import run_op, served_app
from support.api import call

from chive_admin._generated import ids
from chive_admin.clock import stamp, utc_now
from chive_admin.settings import Settings
from chive_admin.store import search
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop


@pytest.fixture
async def client(db_target: DbTarget, tmp_path: Path, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db=db_target, plc_url=testnet.plc_url, allow_private_network=True)
    async with served_app(settings) as c:
        yield c


async def rows(client: httpx.AsyncClient, sql: str, *args: object) -> list[tuple[Any, ...]]:
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in await conn.fetchall(sql, args)]


async def test_one_scan_mirrors_an_update_a_delete_and_a_deactivation(
    testnet: Testnet, pds2: PdsClient, client: httpx.AsyncClient
) -> None:
    alice = pds2.create_account(prefix="fresha")
    doc = pds2.upload_blob(alice, records.minimal_pdf(), "application/pdf")
    eprint = pds2.create_record(
        alice, records.SUBMISSION, records.eprint_submission(submitted_by=alice.did, document=doc, title="Quokka")
    )
    comments = pds2.bulk_create(
        alice, records.COMMENT, 30, factory=lambda i: records.review_comment(eprint_uri=eprint.uri)
    )
    bob = pds2.create_account(prefix="freshb")
    bob_comments = pds2.bulk_create(
        bob, records.COMMENT, 3, factory=lambda i: records.review_comment(eprint_uri=eprint.uri)
    )

    assert (await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds2_url}))["status"] in (
        "completed",
        "partial",
    )
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        assert await search.search(conn, "quokka") == [eprint.uri]
    two_days_ago = stamp(utc_now() - timedelta(days=2))
    async with client.app.state.services.db.write() as conn:  # type: ignore[attr-defined]
        await conn.execute("UPDATE records SET verified_at = ? WHERE did IN (?, ?)", (two_days_ago, alice.did, bob.did))
    aged = (await rows(client, "SELECT count(*) FROM records WHERE verified_at = ?", two_days_ago))[0][0]
    assert aged == 34

    # upstream: one update, one delete (the eprint), one account deactivated
    updated = pds2.put_record(
        alice, records.COMMENT, comments[0].rkey, records.review_comment(eprint_uri=eprint.uri, text="Second thoughts")
    )
    pds2.delete_record(alice, records.SUBMISSION, eprint.rkey)
    pds2.deactivate_account(bob)

    # nothing was verified over an hour ago except what we aged: "hot" sees exactly those
    op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN, {"tier": "warm"})
    if op["status"] != "completed":
        dead = await call(client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)
        pytest.fail(f"{op} {dead.json()}")
    assert op["counts"] == {"checked": 34, "unchanged": 29, "updated": 1, "deleted": 1, "hidden": 3}
    assert op["recordsProcessed"] == op["totalRecords"] == 34

    assert await rows(client, "SELECT cid FROM records WHERE uri = ?", updated.uri) == [(updated.cid,)]
    assert await rows(client, "SELECT count(*) FROM records WHERE uri = ?", eprint.uri) == [(0,)]
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        assert await search.search(conn, "quokka") == []
    assert await rows(client, "SELECT DISTINCT hidden FROM records WHERE did = ?", bob.did) == [(1,)]
    assert {r.uri for r in bob_comments} == {
        r[0] for r in await rows(client, "SELECT uri FROM records WHERE did = ?", bob.did)
    }
    assert await rows(client, "SELECT status FROM repos WHERE did = ?", bob.did) == [("deactivated",)]

    # everything is freshly verified now: a hot scan has nothing to check
    hot = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN, {"tier": "hot"})
    assert (hot["status"], hot["recordsProcessed"], hot["totalRecords"]) == ("completed", 0, 0)

    # reactivated upstream: the next full scan shows bob's records again
    pds2.activate_account(pds2.login(bob))
    again = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "freshnessScan"})
    assert again["params"] == {"tier": "all"}
    assert await rows(client, "SELECT DISTINCT hidden FROM records WHERE did = ?", bob.did) == [(0,)]
    assert await rows(client, "SELECT status FROM repos WHERE did = ?", bob.did) == [("active",)]


async def test_unknown_tier_is_refused(client: httpx.AsyncClient) -> None:
    response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN, {"tier": "lukewarm"})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert "tier" in response.json()["message"]
