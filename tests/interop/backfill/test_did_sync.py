"""did-sync against the real network: the DID's PLC document leads to the right PDS, the CAR export is verified
against its key, and the index then mirrors the repository exactly (updates and deletions included) — also through
a fault-injecting proxy that breaks the export in every way it knows, and against a PDS that never recovers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faults.proxy import Fault, FaultConfig, FaultProxy
from interop.ops import run_op, served_app, trigger_op, wait_op
from support.api import call
from support.plc_view import plc_view

from chive_admin._generated import ids
from chive_admin.backfill.jobs import did_sync
from chive_admin.repo.car import open_verified
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:bench/pub.chive.eprint.submission/x"


@pytest.fixture
async def client(db_target: DbTarget, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    # the accounts here are on the second PDS: it resolves their `.test` handles, which nothing else does
    settings = Settings(
        db=db_target, plc_url=testnet.plc_url, handle_resolver=testnet.pds2_url, allow_private_network=True
    )
    async with served_app(settings) as c:
        yield c


async def indexed(client: httpx.AsyncClient, did: str) -> set[tuple[str, str]]:
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.fetchall("SELECT uri, cid FROM records WHERE did = ? AND hidden = 0", (did,))
    return {(r[0], r[1]) for r in rows}


async def sync_did(client: httpx.AsyncClient, did: str) -> dict[str, Any]:
    return await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": did})


def upstream(pds: PdsClient, did: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for collection in pds.describe_repo(did).get("collections", []):
        if collection.startswith("pub.chive."):
            out |= {(r["uri"], r["cid"]) for r in pds.list_all_records(did, collection)}
    return out


async def test_did_sync_finds_the_second_pds_and_mirrors_changes(
    testnet: Testnet, pds2: PdsClient, client: httpx.AsyncClient
) -> None:
    author = pds2.create_account(prefix="sync")
    doc = pds2.upload_blob(author, records.minimal_pdf(), "application/pdf")
    eprint = pds2.create_record(
        author, records.SUBMISSION, records.eprint_submission(submitted_by=author.did, document=doc)
    )
    comments = pds2.bulk_create(
        author, records.COMMENT, 120, factory=lambda i: records.review_comment(eprint_uri=eprint.uri)
    )
    pds2.create_record(
        author, "app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": "x", "createdAt": records.now_iso()}
    )

    first = await sync_did(client, author.did)
    assert first["status"] == "completed", first
    assert first["counts"] == {"inserted": 121, "updated": 0, "unchanged": 0, "deleted": 0}
    assert await indexed(client, author.did) == upstream(pds2, author.did)
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        repo = await conn.fetchall("SELECT pds_url, handle, rev, data_cid FROM repos WHERE did = ?", (author.did,))
    assert repo[0][0] == testnet.pds2_url  # found through the PLC document, not told
    assert repo[0][1] == author.handle
    # the head a live commit must chain from: the export's rev and its MST root
    exported = open_verified(
        io.BytesIO(pds2.get_repo(author.did)), did=author.did, signing_key=testnet.signing_key(author.did)
    )
    assert (repo[0][2], repo[0][3]) == (exported.rev, exported.data_cid)

    pds2.delete_record(author, records.COMMENT, comments[0].rkey)
    updated = pds2.put_record(
        author, records.COMMENT, comments[1].rkey, records.review_comment(eprint_uri=eprint.uri, text="Amended")
    )
    second = await sync_did(client, author.did)
    assert second["counts"] == {"inserted": 0, "updated": 1, "unchanged": 119, "deleted": 1}
    now = await indexed(client, author.did)
    assert now == upstream(pds2, author.did)
    assert (updated.uri, updated.cid) in now

    again = await sync_did(client, author.did)
    assert again["counts"] == {"inserted": 0, "updated": 0, "unchanged": 120, "deleted": 0}


async def test_did_syncs_queued_behind_busy_workers_resolve_each_did_once(
    pds2: PdsClient, client: httpx.AsyncClient
) -> None:
    # a batch: while the first ones run, the DID documents and handles of those queued behind them are looked up
    # (the look ahead), and each run uses what was looked up for it rather than asking the PLC directory again
    accounts = [pds2.create_account(prefix=f"ahead{i}") for i in range(6)]
    for account in accounts:
        pds2.bulk_create(account, records.COMMENT, 3, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    services = client.app.state.services  # type: ignore[attr-defined]
    fetches, prepared = services.identities.fetches, services.engine.lookahead.started
    op_ids = [await trigger_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": a.did}) for a in accounts]
    ops = [await wait_op(client, op_id) for op_id in op_ids]
    assert [op["status"] for op in ops] == ["completed"] * 6, ops
    assert services.engine.lookahead.started > prepared  # some were prepared ahead (the last ones, at least)
    assert services.identities.fetches - fetches == 6  # once per DID, prepared or not
    async with services.db.read() as conn:
        rows = await conn.fetchall("SELECT did, handle FROM repos")
    handles = {str(did): handle for did, handle in rows}
    assert [handles[a.did] for a in accounts] == [a.handle for a in accounts]  # verified, ahead or in the run


async def test_a_did_sync_alone_puts_the_pds_in_the_registry_with_its_counts(
    testnet: Testnet, pds2: PdsClient, client: httpx.AsyncClient
) -> None:
    """listPDSes lists every host the index holds records from, not only the hosts a pds-scan listed."""
    eprint = "at://did:plc:x/pub.chive.eprint.submission/y"
    authors = [pds2.create_account(prefix="reg"), pds2.create_account(prefix="reg")]
    for author, count in zip(authors, (4, 2), strict=True):
        pds2.bulk_create(author, records.COMMENT, count, factory=lambda i: records.review_comment(eprint_uri=eprint))

    async def registry() -> dict[str, Any]:
        response = await call(client, ids.PUB_CHIVE_ADMIN_LIST_PDSES)
        assert response.status_code == 200, response.text
        stats: dict[str, Any] = response.json()["stats"]
        return stats

    assert (await registry())["total"] == 0
    assert (await sync_did(client, authors[0].did))["status"] == "completed"
    host = {"url": testnet.pds2_url, "status": "unknown", "errorCount": 0, "consecutiveErrors": 0}
    assert await registry() == {
        "total": 1,
        "healthy": 0,
        "unhealthy": 0,
        "withRecords": 1,
        "items": [{**host, "recordCount": 4}],
    }
    assert (await sync_did(client, authors[1].did))["status"] == "completed"
    assert (await registry())["items"] == [{**host, "recordCount": 6}]  # one host, both repositories counted


async def test_unknown_did_fails_with_a_code(client: httpx.AsyncClient) -> None:
    op = await sync_did(client, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    assert (op["status"], op["errorCode"]) == ("failed", "did_not_found")


async def test_a_deactivated_account_is_hidden_not_deleted(pds2: PdsClient, client: httpx.AsyncClient) -> None:
    author = pds2.create_account(prefix="gone")
    pds2.bulk_create(
        author,
        records.COMMENT,
        3,
        factory=lambda i: records.review_comment(eprint_uri="at://did:plc:x/pub.chive.eprint.submission/y"),
    )
    assert (await sync_did(client, author.did))["status"] == "completed"
    pds2.deactivate_account(author)
    op = await sync_did(client, author.did)
    assert op["status"] == "completed"
    assert op["counts"] == {"hidden": 3}
    assert await indexed(client, author.did) == set()
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.fetchall("SELECT count(*) FROM records WHERE did = ?", (author.did,))
        status = await conn.fetchall("SELECT status FROM repos WHERE did = ?", (author.did,))
    assert rows[0][0] == 3
    assert status[0][0] == "deactivated"


async def test_a_bad_did_is_refused_at_trigger_time(client: httpx.AsyncClient) -> None:
    for did in ("alice", "did:plc", "did:example:x y"):
        response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": did})
        assert response.status_code == 400


@contextlib.asynccontextmanager
async def faulty_client(db_target: DbTarget, plc_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        db=db_target,
        plc_url=plc_url,
        allow_private_network=True,
        upstream_timeout=2.0,
        upstream_attempts=6,
    )
    async with served_app(settings) as c:
        yield c


async def test_did_sync_of_2000_records_through_every_fault(
    db_target: DbTarget, testnet: Testnet, pds2: PdsClient
) -> None:
    author = pds2.create_account(prefix="faultsync")
    comment = records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    pds2.bulk_create(author, records.COMMENT, 2000, factory=lambda i: comment)
    # a 200 that is not a CAR is refused for what it holds, not retried: for an export it is no transient fault
    transient = [f for f in Fault if f not in (Fault.HUGE_BODY, Fault.HUGE_BODY_DECLARED, Fault.INVALID_JSON)]
    # each sync meets a run of faults before the export gets through, then the seeded 30 % schedule takes over
    config = FaultConfig(
        rate=0.3,
        seed=5,
        stall_s=5.0,
        retry_after_s=0.2,
        reset_in_s=0.5,
        max_consecutive=3,
        plan=tuple(transient),
        kinds=tuple(transient),
    )
    async with (
        FaultProxy(testnet.pds2_url, config) as proxy,
        plc_view(testnet.plc_url, testnet.pds2_url, proxy.url) as plc,
        faulty_client(db_target, plc.url) as client,
    ):
        ops = [await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did}, 300)]
        while proxy.stats().faulted < len(transient):  # every planned fault met by some sync
            ops.append(await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did}, 300))
        got = await indexed(client, author.did)
    stats = proxy.stats()
    print(f"\n[did-sync faults] {len(ops)} syncs, {stats.calls} upstream calls, {stats.faulted} faulted")
    assert [op["status"] for op in ops] == ["completed"] * len(ops), ops
    assert ops[0]["counts"]["inserted"] == 2000
    assert got == upstream(pds2, author.did)
    assert stats.faulted >= len(transient)
    assert plc.served >= 1  # the PDS was found through the (real) PLC document


async def test_did_sync_against_a_pds_that_never_recovers(
    db_target: DbTarget, testnet: Testnet, pds2: PdsClient
) -> None:
    author = pds2.create_account(prefix="deadsync")
    pds2.create_record(author, records.COMMENT, records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d"))
    never = FaultConfig(never_recover=True, kinds=(Fault.HTTP_503, Fault.RESET_BEFORE), seed=4)
    async with (
        FaultProxy(testnet.pds2_url, never) as proxy,
        plc_view(testnet.plc_url, testnet.pds2_url, proxy.url) as plc,
        faulty_client(db_target, plc.url) as client,
    ):
        started = asyncio.get_running_loop().time()
        op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did}, 120)
        elapsed = asyncio.get_running_loop().time() - started
        answer = await call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS)
    print(f"\n[did-sync never recovers] {op['status']} {op.get('errorCode')} after {elapsed:.1f} s")
    assert op["status"] == "failed"
    assert op["errorCode"]
    assert answer.status_code == 200
    assert elapsed < 120


async def test_a_reader_killed_mid_sync_fails_the_op_and_the_next_sync_completes(
    pds2: PdsClient, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = pds2.create_account(prefix="reader")
    pds2.bulk_create(author, records.COMMENT, 1200, factory=lambda i: records.review_comment(eprint_uri=EPRINT))
    readers = client.app.state.services.readers  # type: ignore[attr-defined]
    assert readers is not None  # the default: exports are read in reader processes
    write = did_sync.apply_records
    killed: list[int] = []

    async def write_then_kill(*args: Any) -> Any:
        result = await write(*args)
        if not killed:  # after the first part is written, the reader dies (as the OOM killer would do it)
            (reader,) = readers._busy
            killed.append(reader.process.pid)
            os.kill(reader.process.pid, signal.SIGKILL)
        return result

    monkeypatch.setattr(did_sync, "apply_records", write_then_kill)
    failed = await sync_did(client, author.did)
    assert (failed["status"], failed["errorCode"]) == ("failed", "repo_read_failed")
    assert f"pid {killed[0]}" in failed["error"]
    assert 0 < len(await indexed(client, author.did)) < 1200  # the parts written before it stay, until the next sync

    monkeypatch.setattr(did_sync, "apply_records", write)
    done = await sync_did(client, author.did)
    assert done["status"] == "completed", done
    assert await indexed(client, author.did) == upstream(pds2, author.did)
    assert killed[0] not in {reader.process.pid for reader in readers._idle}
