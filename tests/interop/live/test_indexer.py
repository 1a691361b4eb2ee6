"""Live indexing from the testnet PDS's real com.atproto.sync.subscribeRepos: a repository new to the index is
synced, then its creates, updates and deletes arrive commit by commit; other collections are ignored; a restart
resumes from the committed cursor with nothing applied twice; getFirehoseStatus answers that cursor."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from interop.ops import served_app
from support.auth import ADMIN

from chive_admin._generated import ids
from chive_admin.live.indexer import LiveIndexer
from chive_admin.settings import Settings
from chive_admin.store import firehose_cursors, operations
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

EPRINT = "at://did:plc:livelive/pub.chive.eprint.submission/x"


def settings_for(db_target: DbTarget, testnet: Testnet) -> Settings:
    return Settings(
        db=db_target,
        plc_url=testnet.plc_url,
        handle_resolver=testnet.pds_url,
        allow_private_network=True,
        firehose_url=testnet.pds_url,
    )


@contextlib.asynccontextmanager
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with served_app(settings) as client:
        await until(connected(indexer_of(client)))
        yield client


def connected(indexer: LiveIndexer) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return indexer.stats.connected

    return check


def mirrored(client: httpx.AsyncClient, pds: PdsClient, did: str) -> Callable[[], Awaitable[bool]]:
    """The index holds what the PDS holds, and no operation (a did-sync) is still writing."""

    async def check() -> bool:
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            if await operations.list_active(conn, 1):
                return False
        return await mirrors(client, pds, did)

    return check


def indexer_of(client: httpx.AsyncClient) -> LiveIndexer:
    indexer = client.app.state.services.live  # type: ignore[attr-defined]
    assert isinstance(indexer, LiveIndexer)
    return indexer


async def until(check: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    """Poll ``check`` until it holds: a bounded wait, not a timing assertion."""
    for _ in range(int(within / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s")


async def indexed(client: httpx.AsyncClient, did: str) -> dict[str, tuple[str, int]]:
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.fetchall("SELECT uri, cid, writes FROM records WHERE did = ?", (did,))
    return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


def upstream(pds: PdsClient, did: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for collection in pds.describe_repo(did).get("collections", []):
        if collection.startswith("pub.chive."):
            out |= {r["uri"]: r["cid"] for r in pds.list_all_records(did, collection)}
    return out


async def mirrors(client: httpx.AsyncClient, pds: PdsClient, did: str) -> bool:
    return {uri: cid for uri, (cid, _) in (await indexed(client, did)).items()} == upstream(pds, did)


async def test_commits_flow_into_the_index_and_a_restart_resumes_from_the_cursor(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    settings = settings_for(db_target, testnet)
    author: Account = pds.create_account(prefix="live")
    async with live(settings) as client:
        indexer = indexer_of(client)
        first = pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
        # a repository the index does not hold: a did-sync brings it level, then commits apply one by one
        await until(mirrored(client, pds, author.did))
        assert indexer.stats.resyncs == 1
        rkey = first.uri.rsplit("/", 1)[1]
        pds.put_record(author, records.COMMENT, rkey, records.review_comment(eprint_uri=EPRINT, text="edited"))
        second = pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
        pds.create_record(
            author, "app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": "x", "createdAt": records.now_iso()}
        )
        await until(mirrored(client, pds, author.did))
        pds.delete_record(author, records.COMMENT, second.uri.rsplit("/", 1)[1])
        await until(mirrored(client, pds, author.did))
        assert indexer.stats.applied == 4  # the update, the create, the post (the head moves), the delete
        assert indexer.stats.resyncs == 1
        assert indexer.stats.refused == 0
        held = await indexed(client, author.did)
        assert all(not uri.split("/")[3].startswith("app.bsky") for uri in held)
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            committed = await firehose_cursors.get(conn, testnet.pds_url)
        status = (await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS}", headers=ADMIN)).json()
        assert committed is not None
        assert status["cursor"] == str(committed)

    # while the server is down the repository goes on; the restart asks the PDS for what came after the cursor
    made = [pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT)) for _ in range(3)]
    async with live(settings) as client:
        indexer = indexer_of(client)
        await until(mirrored(client, pds, author.did))
        assert indexer.stats.applied == 3  # exactly the missed commits, each once, and no resync
        assert indexer.stats.resyncs == 0
        held = await indexed(client, author.did)
        assert {held[ref.uri][1] for ref in made} == {1}
        assert held[first.uri][1] == 2  # written by the did-sync, rewritten once by the update
