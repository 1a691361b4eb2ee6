"""did-sync against the real network: the DID's PLC document leads to the right PDS, the CAR export is verified
against its key, and the index then mirrors the repository exactly (updates and deletions included)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import running_client
from interop import records
from interop.ops import run_op
from interop.pds_client import PdsClient
from interop.testnet_harness import Testnet
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin.app import create_app
from chive_admin.backfill.engine import EngineConfig
from chive_admin.settings import Settings

pytestmark = pytest.mark.interop

ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture
async def client(tmp_path: Path, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db=tmp_path / "sync.db", plc_url=testnet.plc_url, allow_private_network=True)
    app = create_app(settings, authenticator=FixedTokens(), engine_config=EngineConfig(poll_seconds=0.05))
    async for c in running_client(app):
        c.app = app  # type: ignore[attr-defined]
        yield c


async def indexed(client: httpx.AsyncClient, did: str) -> set[tuple[str, str]]:
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.execute_fetchall("SELECT uri, cid FROM records WHERE did = ? AND hidden = 0", (did,))
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
        repo = await conn.execute_fetchall("SELECT pds_url, handle, rev FROM repos WHERE did = ?", (author.did,))
    assert repo[0][0] == testnet.pds2_url  # found through the PLC document, not told
    assert repo[0][1] == author.handle
    assert repo[0][2]

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
        rows = await conn.execute_fetchall("SELECT count(*) FROM records WHERE did = ?", (author.did,))
        status = await conn.execute_fetchall("SELECT status FROM repos WHERE did = ?", (author.did,))
    assert rows[0][0] == 3
    assert status[0][0] == "deactivated"


async def test_a_bad_did_is_refused_at_trigger_time(client: httpx.AsyncClient) -> None:
    for did in ("alice", "did:plc", "did:example:x y"):
        response = await client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC}", json={"did": did}, headers=ADMIN)
        assert response.status_code == 400
