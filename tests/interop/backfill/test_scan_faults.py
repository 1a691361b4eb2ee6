"""pds-scan through the fault-injecting proxy in front of a real PDS: at 30 % faults the scan still completes with
an index equal to upstream; against a PDS that never recovers it fails with an error code in bounded time, and the
server keeps answering throughout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from faults.proxy import Fault, FaultConfig, FaultProxy
from interop.ops import expected_index, served_app
from support.api import Operation, call, started, wait_ended
from support.plc_view import plc_view

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

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


@asynccontextmanager
async def scanning(db_target: DbTarget, plc_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        db=db_target, plc_url=plc_url, allow_private_network=True, upstream_timeout=2.0, upstream_attempts=10
    )
    async with served_app(settings) as c:
        yield c


@pytest.fixture
async def client(db_target: DbTarget, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    async with scanning(db_target, testnet.plc_url) as c:
        yield c


async def scan(client: httpx.AsyncClient, url: str, limit: float) -> Operation:
    """Run a pds-scan of ``url`` to its end, polling its status all along: every poll must be answered (200)."""
    return await wait_ended(
        client, started(await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url})), within=limit
    )


async def test_scan_completes_through_30_percent_faults(db_target: DbTarget, testnet: Testnet, pds2: PdsClient) -> None:
    account = pds2.create_account(prefix="faulty")
    pds2.bulk_create(
        account, records.COMMENT, 2000, factory=lambda i: records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d")
    )
    # the accounts' documents name the proxy: a scan writes only what a DID's own PDS says of it
    async with (
        FaultProxy(testnet.pds2_url, FAULTS) as proxy,
        plc_view(testnet.plc_url, testnet.pds2_url, proxy.url) as plc,
        scanning(db_target, plc.url) as client,
    ):
        op = await scan(client, proxy.url, limit=300)
        stats = proxy.stats()
        dead = (await call(client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()["entries"]
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            indexed = {(r[0], r[1]) for r in await conn.fetchall("SELECT uri, cid FROM records WHERE hidden = 0")}
    assert op["status"] in ("completed", "partial"), op
    # only records invalid upstream, never a fetch that gave up
    assert op.get("recordsFailed", 0) == len([1 for d in dead if d["errorType"] == "invalid_record"])
    assert stats.faulted >= 5
    assert stats.faulted / stats.calls >= 0.15  # the seeded schedule really did fault a good share of calls
    assert indexed == expected_index(pds2)


async def test_a_pds_that_never_recovers_fails_in_bounded_time(testnet: Testnet, client: httpx.AsyncClient) -> None:
    never = FaultConfig(never_recover=True, kinds=(Fault.HTTP_503, Fault.RESET_BEFORE), seed=3)
    async with FaultProxy(testnet.pds2_url, never) as proxy:
        # ends within the bound (else the wait fails the test): the attempt budget gives up, not the test's patience
        op = await scan(client, proxy.url, limit=120)
    assert (op["status"], op["errorCode"]) == ("failed", "pds_unreachable")
