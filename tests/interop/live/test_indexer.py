"""Live indexing from the testnet PDS's real com.atproto.sync.subscribeRepos: a repository new to the index is
synced, then its creates, updates and deletes arrive commit by commit; other collections are ignored; a restart
resumes from the committed cursor with nothing applied twice; getFirehoseStatus answers that cursor."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import pytest
from interop.ops import served_app
from support.auth import ADMIN
from support.polling import until

from chive_admin._generated import ids
from chive_admin.live.indexer import LiveIndexer
from chive_admin.settings import Settings
from chive_admin.store import firehose_cursors, operations
from chive_admin.store.target import DbTarget
from chive_admin.upstream.firehose import Sequenced, decode_frame, subscribe_url
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
        # and it is the PDS's own: its stream, asked for what follows the one before, sends exactly that event
        assert await pds_sequence_after(testnet.pds_url, committed - 1) == [committed]

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


async def pds_sequence_after(url: str, cursor: int) -> list[int]:
    """The sequence numbers the PDS's subscribeRepos sends after ``cursor``, until a second passes without one."""
    seqs: list[int] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(subscribe_url(url, cursor)) as ws:
        while True:
            try:
                message = await ws.receive(timeout=1.0)
            except TimeoutError:
                return seqs
            if message.type is not aiohttp.WSMsgType.BINARY:
                return seqs
            event = decode_frame(message.data)
            assert isinstance(event, Sequenced), event
            seqs.append(event.seq)


async def hidden_and_status(client: httpx.AsyncClient, did: str) -> tuple[set[bool], str | None]:
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        rows = await conn.fetchall("SELECT hidden FROM records WHERE did = ?", (did,))
        repo = await conn.fetchone("SELECT status FROM repos WHERE did = ?", (did,))
    return {bool(r[0]) for r in rows}, None if repo is None else str(repo[0])


def state_is(client: httpx.AsyncClient, did: str, hidden: set[bool], status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await hidden_and_status(client, did) == (hidden, status)

    return check


async def test_account_status_from_the_pds_hides_brings_back_and_purges(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    settings = settings_for(db_target, testnet)
    author: Account = pds.create_account(prefix="acct")
    other: Account = pds.create_account(prefix="acct")
    async with live(settings) as client:
        for account in (author, other):
            pds.create_record(account, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
            await until(mirrored(client, pds, account.did))
        pds.deactivate_account(author)
        await until(state_is(client, author.did, {True}, "deactivated"))
        pds.activate_account(author)
        await until(state_is(client, author.did, {False}, "active"))
        # back: synced again, since what changed while it was away is not in the stream
        pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
        await until(mirrored(client, pds, author.did))
        pds.takedown_account(other.did)
        await until(state_is(client, other.did, {True}, "takendown"))
        pds.delete_account_admin(author.did)
        await until(state_is(client, author.did, set(), "deleted"))
        stats = indexer_of(client).stats
        assert stats.refused == 0
        assert stats.accounts >= 4


async def test_a_did_sync_under_live_commits_ends_with_the_index_equal_to_the_pds(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    settings = settings_for(db_target, testnet)
    author: Account = pds.create_account(prefix="race")
    async with live(settings) as client:
        made = pds.bulk_create(
            author, records.COMMENT, 1500, factory=lambda i: records.review_comment(eprint_uri=EPRINT)
        )
        await until(mirrored(client, pds, author.did))
        indexer = indexer_of(client)
        started = threading.Event()

        def churn() -> None:
            """Creates, updates and deletes before, while and after the did-sync below runs."""
            for i in range(30):
                if i == 3:
                    started.set()
                rkey = made[i].uri.rsplit("/", 1)[1]
                if i % 3 == 0:
                    pds.delete_record(author, records.COMMENT, rkey)
                elif i % 3 == 1:
                    pds.put_record(author, records.COMMENT, rkey, records.review_comment(eprint_uri=EPRINT, text="v2"))
                else:
                    pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))

        churning = asyncio.create_task(asyncio.to_thread(churn))
        await asyncio.to_thread(started.wait)
        trigger = await client.post(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC}", json={"did": author.did}, headers=ADMIN
        )
        assert trigger.status_code == 200, trigger.text
        await churning
        await until(mirrored(client, pds, author.did))
        stats = indexer.stats
        assert stats.refused == 0
        # every commit held for the sync's snapshot was judged against it once the sync ended
        assert stats.handed_over == stats.held


async def test_a_cursor_ahead_of_the_pds_is_forgotten_and_the_gap_rescanned(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    settings = settings_for(db_target, testnet)
    author: Account = pds.create_account(prefix="future")
    async with live(settings) as client:
        pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
        await until(mirrored(client, pds, author.did))
    # the PDS was reset, or the cursor is another source's: the PDS answers FutureCursor
    async with served_app(settings) as admin, admin.app.state.services.db.write() as conn:  # type: ignore[attr-defined]
        await firehose_cursors.advance(conn, testnet.pds_url, 10**12, "2026-12-06T00:00:00Z")
    async with served_app(settings) as client:
        indexer = indexer_of(client)

        async def refused() -> bool:
            return indexer.stats.stream_errors.get("FutureCursor", 0) >= 1

        await until(refused)
        await until(connected(indexer))
        pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
        await until(mirrored(client, pds, author.did))
        async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            committed = await firehose_cursors.get(conn, testnet.pds_url)
            ops = await operations.history(conn, 20) + await operations.list_active(conn, 20)
        assert committed is not None
        assert committed < 10**12
        assert "freshness-scan" in {op.type for op in ops}


async def test_an_outdated_cursor_goes_on_from_the_oldest_event_and_the_gap_is_rescanned(
    db_target: DbTarget, testnet_install_dir: Path
) -> None:
    # a PDS that replays only the last second of its sequence: a cursor older than that is outdated
    net = Testnet(testnet_install_dir, extra_env={"TESTNET_PDS_BACKFILL_LIMIT_MS": "1000"}).start()
    try:
        info = net.info
        with PdsClient(net.pds_url, admin_password=info.admin_password, handle_domain=info.handle_domain) as pds:
            settings = settings_for(db_target, net)
            author: Account = pds.create_account(prefix="old")
            async with live(settings) as client:
                pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
                await until(mirrored(client, pds, author.did))
            # while the server is down, more than the window passes
            missed = pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
            await asyncio.sleep(1.5)
            async with live(settings) as client:
                indexer = indexer_of(client)

                async def outdated() -> bool:
                    return indexer.stats.gaps >= 1

                await until(outdated)
                assert indexer.stats.infos == 1
                # the stream goes on. The next commit does not chain from what the index holds (the missed one is
                # between them): its repository is synced, the missed record with it
                pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=EPRINT))
                await until(mirrored(client, pds, author.did))
                assert missed.uri in await indexed(client, author.did)
                async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
                    ops = await operations.history(conn, 20) + await operations.list_active(conn, 20)
                assert "freshness-scan" in {op.type for op in ops}
    finally:
        net.close()
