"""pds-scan keeps to ``--upstream-concurrency``: a counting proxy in front of a real PDS sees no more requests at once
than it allows, and sees that many used (repositories are fetched side by side, not one after another), over no more
connections than that."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from faults.proxy import FaultConfig, FaultProxy
from interop.ops import run_op, served_app
from support.plc_view import plc_view

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

LIMIT = 2


@asynccontextmanager
async def scanning(db_target: DbTarget, plc_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db=db_target, plc_url=plc_url, allow_private_network=True, upstream_concurrency=LIMIT)
    async with served_app(settings) as c:
        yield c


async def test_a_scan_uses_the_host_limit_and_never_exceeds_it(
    db_target: DbTarget, testnet: Testnet, pds2: PdsClient
) -> None:
    for i in range(4):
        account = pds2.create_account(prefix=f"conc{i}")
        pds2.bulk_create(
            account,
            records.COMMENT,
            800,
            factory=lambda n: records.review_comment(eprint_uri="at://did:plc:x/a.b.c/d", text=f"c{n}"),
        )
    # the accounts' documents name the proxy: a scan writes only what a DID's own PDS says of it
    async with (
        FaultProxy(testnet.pds2_url, FaultConfig(rate=0.0)) as proxy,
        plc_view(testnet.plc_url, testnet.pds2_url, proxy.url) as plc,
        scanning(db_target, plc.url) as client,
    ):
        op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": proxy.url}, limit=300)
        stats = proxy.stats()
    assert op["status"] == "completed", op
    # listed from both ends at once after two pages: without the host limit, 2 repositories could have 4 in flight
    assert op["recordsProcessed"] >= 4 * 800
    assert stats.calls >= 4 * 9  # describeRepo and eight listRecords pages each, at least
    # counted as the PDS sees it: a read-ahead dropped where two listings met keeps its slot until answered
    assert stats.peak_in_flight == LIMIT
    # ...and its connection, which goes back to the pool instead of being cut and dialled again
    assert stats.connections <= LIMIT
