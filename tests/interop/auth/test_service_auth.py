"""Service-auth tokens minted by a real PDS (com.atproto.server.getServiceAuth) for real did:plc accounts, verified
by the server against the PLC-resolved key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import running_client
from support.api import call
from support.auth import bearer

from chive_admin._generated import ids
from chive_admin.cli.local_db import opened
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

SERVICE_DID = "did:web:chive-admin.test"
STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS


@pytest.fixture
async def admin_and_client(
    db_target: DbTarget, tmp_path: Path, testnet: Testnet, pds: PdsClient
) -> AsyncIterator[tuple[Account, httpx.AsyncClient]]:
    admin = pds.create_account(prefix="admin")
    settings = Settings(
        db=db_target,
        service_did=SERVICE_DID,
        admin_dids=(admin.did,),
        plc_url=testnet.plc_url,
        allow_private_network=True,
    )
    async with running_client(create_app(settings)) as client:
        yield admin, client


async def test_tokens_from_a_real_pds(
    db_target: DbTarget, pds: PdsClient, pds2: PdsClient, admin_and_client: tuple[Account, httpx.AsyncClient]
) -> None:
    admin, client = admin_and_client
    token = pds.get_service_auth(admin, aud=SERVICE_DID, lxm=STATUS)
    assert (await call(client, STATUS, headers=bearer(token))).status_code == 200
    # replayed
    assert (await call(client, STATUS, headers=bearer(token))).status_code == 401
    # for another method
    wrong_method = pds.get_service_auth(admin, aud=SERVICE_DID, lxm=STATUS)
    assert (
        await call(client, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": "01X"}, headers=bearer(wrong_method))
    ).status_code == 401
    # for another service
    other_service = pds.get_service_auth(admin, aud="did:web:elsewhere.test", lxm=STATUS)
    assert (await call(client, STATUS, headers=bearer(other_service))).status_code == 401
    # without lxm (the PDS allows it for short-lived tokens)
    no_lxm = pds.get_service_auth(admin, aud=SERVICE_DID)
    assert (await call(client, STATUS, headers=bearer(no_lxm))).status_code == 401
    # a valid identity on another PDS, without the admin role
    stranger = pds2.create_account(prefix="stranger")
    denied = await call(client, STATUS, headers=bearer(pds2.get_service_auth(stranger, aud=SERVICE_DID, lxm=STATUS)))
    assert denied.status_code == 403
    assert denied.json()["error"] == "AdminRequired"

    audit_token = pds.get_service_auth(admin, aud=SERVICE_DID, lxm=ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG)
    audit = (await call(client, ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, headers=bearer(audit_token))).json()
    assert any("reason=AdminRequired" in e["details"] for e in audit["entries"])
    # refusals before an identity was established have no actor: kept in the table, not in getAuditLog's answer
    # (Chive's lexicon requires actorDid)
    assert all(e.get("actorDid") for e in audit["entries"])
    assert token not in str(audit)
    # getAuditLog flushed the audit buffer before it read: every refusal above is in the table
    async with opened(db_target) as db, db.read() as conn:  # beside the server, as `chive-admin keys` opens it
        refused = {row[0] for row in await conn.fetchall("SELECT reason FROM audit_log WHERE actor_did IS NULL")}
    assert {"replayed", "wrong_lxm", "wrong_aud"} <= refused
