"""pds-scan through the fault-injecting proxy in front of a real PDS: at 30 % faults the scan still completes with
an index equal to upstream; against a PDS that never recovers it fails with an error code in bounded time, and the
server keeps answering throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults.proxy import Fault, FaultConfig, FaultProxy
from interop.ops import expected_index, served_app

from chive_admin._generated import ids
from chive_admin.settings import Settings
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

ADMIN = {"Authorization": "Bearer admin"}
#: the CI-sized run: a stall costs one 2 s read timeout, 429s announce 0.2-1 s waits
FAULTS = FaultConfig(
    rate=0.3,
    seed=11,
    stall_s=5.0,
    retry_after_s=0.2,
    reset_in_s=0.5,
    max_consecutive=3,
    kinds=tuple(f for f in Fault if f not in (Fault.HUGE_BODY, Fault.HUGE_BODY_DECLARED)),
)


@pytest.fixture
async def client(tmp_path: Path, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        db=tmp_path / "faults.db",
        plc_url=testnet.plc_url,
        allow_private_network=True,
        upstream_timeout=2.0,
        upstream_attempts=10,
    )
    async for c in served_app(settings):
        yield c


async def scan(client: httpx.AsyncClient, url: str, limit: float) -> tuple[dict[str, Any], list[int]]:
    """Run a pds-scan of ``url``, polling status all along (the server must keep answering)."""
    response = await client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN}", json={"pdsUrl": url}, headers=ADMIN)
    assert response.status_code == 200, response.text
    op_id = response.json()["operationId"]
    statuses: list[int] = []
    deadline = asyncio.get_running_loop().time() + limit
    while asyncio.get_running_loop().time() < deadline:
        answer = await client.get(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", params={"id": op_id}, headers=ADMIN
        )
        statuses.append(answer.status_code)
        op: dict[str, Any] = answer.json()["operation"]
        if op["status"] not in ("queued", "running"):
            return op, statuses
        await asyncio.sleep(0.1)
    pytest.fail(f"the scan did not end within {limit} s")


async def test_scan_completes_through_30_percent_faults(
    testnet: Testnet, pds2: PdsClient, client: httpx.AsyncClient
) -> None:
    account = pds2.create_account(prefix="faulty")
    pds2.bulk_create(
        account, records.COMMENT, 2000, factory=lambda i: records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    )
    async with FaultProxy(testnet.pds2_url, FAULTS) as proxy:
        op, statuses = await scan(client, proxy.url, limit=300)
        stats = proxy.stats()
    assert op["status"] in ("completed", "partial"), op
    assert op.get("recordsFailed", 0) == len(  # only records invalid upstream, never a fetch that gave up
        [
            1
            for d in (await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES}", headers=ADMIN)).json()[
                "entries"
            ]
            if d["errorType"] == "invalid_record"
        ]
    )
    assert stats.faulted >= 5
    assert stats.faulted / stats.calls >= 0.15  # the seeded schedule really did fault a good share of calls
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        indexed = {(r[0], r[1]) for r in await conn.execute_fetchall("SELECT uri, cid FROM records WHERE hidden = 0")}
    assert indexed == expected_index(pds2)
    assert set(statuses) == {200}


async def test_a_pds_that_never_recovers_fails_in_bounded_time(testnet: Testnet, client: httpx.AsyncClient) -> None:
    never = FaultConfig(never_recover=True, kinds=(Fault.HTTP_503, Fault.RESET_BEFORE), seed=3)
    async with FaultProxy(testnet.pds2_url, never) as proxy:
        started = asyncio.get_running_loop().time()
        op, statuses = await scan(client, proxy.url, limit=120)
        elapsed = asyncio.get_running_loop().time() - started
    assert (op["status"], op["errorCode"]) == ("failed", "pds_unreachable")
    assert set(statuses) == {200}
    assert elapsed < 120  # bounded by the attempt budget, not by the test's patience
