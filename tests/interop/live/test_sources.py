"""Live indexing from every PDS of the registry (``--firehose-pdses``) on the testnet: both PDSes are read at once,
each with its own cursor, their commits land in the index, and getFirehoseStatus answers the lower cursor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from interop.ops import served_app
from support.auth import ADMIN
from support.polling import until

from chive_admin._generated import ids
from chive_admin.clock import now_stamp
from chive_admin.live.sources import LiveSources
from chive_admin.settings import Settings
from chive_admin.store import firehose_cursors, index, operations
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:perpds/pub.chive.eprint.submission/x"


def sources_of(client: httpx.AsyncClient) -> LiveSources:
    sources = client.app.state.services.sources  # type: ignore[attr-defined]
    assert isinstance(sources, LiveSources)
    return sources


async def register(db_target: DbTarget, *hosts: str) -> None:
    """The registry as earlier scans left it, before the server starts."""
    db = await Database.open(db_target)
    try:
        async with db.write() as conn:
            for host in hosts:
                await index.ensure_pds(conn, host, now_stamp())
    finally:
        await db.close()


def mirrored(client: httpx.AsyncClient, pds: PdsClient, account: Account) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            if await operations.list_active(conn, 1):
                return False
            rows = await conn.fetchall("SELECT uri, cid FROM records WHERE did = ?", (account.did,))
        held = {(str(r[0]), str(r[1])) for r in rows}
        return held == {(r["uri"], r["cid"]) for r in pds.list_all_records(account.did, records.COMMENT)}

    return check


async def test_every_registered_pds_is_followed_with_its_own_cursor(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient, pds2: PdsClient
) -> None:
    await register(db_target, testnet.pds_url, testnet.pds2_url)
    settings = Settings(
        db=db_target,
        plc_url=testnet.plc_url,
        handle_resolver=testnet.pds_url,
        allow_private_network=True,
        firehose_pdses=True,
    )
    one, two = pds.create_account(prefix="perpds"), pds2.create_account(prefix="perpds")
    async with served_app(settings) as client:
        sources = sources_of(client)
        assert sources.relay is None
        await until(lambda: _connected(sources, testnet.pds_url, testnet.pds2_url))
        for host, account in ((pds, one), (pds2, two)):
            made = host.create_record(account, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
            await until(mirrored(client, host, account))  # new to the index: a did-sync
            host.put_record(
                account, records.COMMENT, made.rkey, records.review_comment(eprint_uri=EPRINT, text="edited")
            )
            host.create_record(account, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
            await until(mirrored(client, host, account))
        stats = {url: sources.indexers[url].stats for url in (testnet.pds_url, testnet.pds2_url)}
        assert [(s.applied, s.resyncs, s.foreign, s.refused) for s in stats.values()] == [(2, 1, 0, 0)] * 2
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            cursors = [await firehose_cursors.get(conn, url) for url in (testnet.pds_url, testnet.pds2_url)]
            pds_rows = {row.url: row.status for row in (await index.pds_stats(conn, limit=10)).items}
        assert None not in cursors
        status = (await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS}", headers=ADMIN)).json()
        assert status["cursor"] == str(min(c for c in cursors if c is not None))
        # a connection made is a contact with the host: the registry calls both healthy
        assert pds_rows[testnet.pds_url] == pds_rows[testnet.pds2_url] == "healthy"


async def _connected(sources: LiveSources, *urls: str) -> bool:
    return all(url in sources.indexers and sources.indexers[url].stats.connected for url in urls)
