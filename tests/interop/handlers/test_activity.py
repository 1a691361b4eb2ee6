"""Activity correlation on the real network: a user logs intents with its own service-auth token from a real PDS,
writes one record for real, and a did-sync indexes it: that intent is confirmed with its latency, one never written
times out, one marked failed is failed, and another user cannot fail someone else's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from conftest import running_client
from support.api import call, started, wait_ended
from support.auth import bearer
from support.engine import engine_config

from chive_admin._generated import ids
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp, utc_now
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

SERVICE_DID = "did:web:chive-admin.test"
LOG, FAILED = ids.PUB_CHIVE_ACTIVITY_LOG, ids.PUB_CHIVE_ACTIVITY_MARK_FAILED
CORRELATION = ids.PUB_CHIVE_ADMIN_GET_ACTIVITY_CORRELATION
ADMIN_DID = "did:plc:activityinteropadmin0000000"


@pytest.fixture
async def client(db_target: DbTarget, tmp_path: Path, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        db=db_target,
        service_did=SERVICE_DID,
        admin_dids=(ADMIN_DID,),
        plc_url=testnet.plc_url,
        allow_private_network=True,
    )
    app = create_app(settings, engine_config=engine_config(poll_seconds=0.05))
    async with running_client(app) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def admin_key(client: httpx.AsyncClient) -> dict[str, str]:
    key = new_key()
    async with client.app.state.services.db.write() as conn:  # type: ignore[attr-defined]
        await api_keys_store.create_key(
            conn, key_id=new_key_id(), did=ADMIN_DID, name="interop", key_hash=key_hash(key), now=now_stamp()
        )
    return bearer(key)


async def as_user(
    client: httpx.AsyncClient, pds: PdsClient, user: Account, nsid: str, body: dict[str, str]
) -> httpx.Response:
    token = pds.get_service_auth(user, aud=SERVICE_DID, lxm=nsid)
    return await client.post(f"/xrpc/{nsid}", json=body, headers=bearer(token))


def intent(rkey: str) -> dict[str, str]:
    return {"collection": records.SUBMISSION, "rkey": rkey, "action": "create", "category": "eprint_submit"}


async def test_intents_confirmed_timed_out_and_failed(client: httpx.AsyncClient, pds: PdsClient) -> None:
    user, other = pds.create_account(prefix="act"), pds.create_account(prefix="other")
    for rkey in ("3kactwritten", "3kactnever", "3kactfailed"):
        logged = await as_user(client, pds, user, LOG, intent(rkey))
        assert logged.status_code == 200, logged.text
    # a token for another method is refused: lxm is the method
    wrong = pds.get_service_auth(user, aud=SERVICE_DID, lxm=LOG)
    refused = await client.post(f"/xrpc/{FAILED}", json={}, headers=bearer(wrong))
    assert refused.status_code == 401

    failure = {"collection": records.SUBMISSION, "rkey": "3kactfailed", "errorCode": "E", "errorMessage": "no"}
    stolen = await as_user(client, pds, other, FAILED, failure)
    assert (stolen.status_code, stolen.json()["error"]) == (400, "NotFound")
    assert (await as_user(client, pds, user, FAILED, failure)).status_code == 200

    document = pds.upload_blob(user, records.minimal_pdf(), "application/pdf")
    pds.create_record(
        user,
        records.SUBMISSION,
        records.eprint_submission(submitted_by=user.did, document=document),
        rkey="3kactwritten",
    )
    admin = await admin_key(client)
    op_id = started(await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": user.did}, headers=admin))
    assert (await wait_ended(client, op_id, headers=admin))["status"] == "completed"

    services = client.app.state.services  # type: ignore[attr-defined]
    later = utc_now() + timedelta(hours=1, minutes=1)  # past the hour: the intent never written has timed out
    services.activity.clock = lambda: later
    metrics = (await call(client, CORRELATION, headers=admin)).json()["metrics"]
    mine = [m for m in metrics if m["category"] == "eprint_submit"]
    assert len(mine) in (1, 2)  # the three were logged within a second: one hour, or two across its end
    totals = {k: sum(m[k] for m in mine) for k in ("totalActivities", "confirmed", "failed", "timeout", "pending")}
    assert totals == {"totalActivities": 3, "confirmed": 1, "failed": 1, "timeout": 1, "pending": 0}
    confirmed = next(m for m in mine if m["confirmed"])
    assert confirmed["avgLatency"] == confirmed["p95Latency"] > 0
