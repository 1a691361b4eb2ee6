"""pds-scan against a real PDS: the index equals what the PDS holds, re-runs change nothing, invalid records are
dead-lettered, inactive repos are counted and hidden, cancel stops within a batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import running_client
from interop.ops import expected_index
from starlette.applications import Starlette
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config

from chive_admin._generated import ids
from chive_admin.backfill.jobs import pds_scan
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

FAST = engine_config(workers=2, lease_seconds=10, poll_seconds=0.05)


@dataclass
class Population:
    empty: Account
    one: Account
    paged: Account
    big: Account
    inactive: Account
    invalid_uri: str
    document: dict[str, Any]


@pytest.fixture(scope="module")
def population(testnet: Testnet, pds: PdsClient, backend: str) -> Iterator[Population]:
    """Made once per backend: the tests change it (a record fixed, a comment deleted)."""
    del backend
    empty = pds.create_account(prefix="empty")
    one = pds.create_account(prefix="one")
    doc = pds.upload_blob(one, records.minimal_pdf(), "application/pdf")
    eprint = pds.create_record(one, records.SUBMISSION, records.eprint_submission(submitted_by=one.did, document=doc))
    paged = pds.create_account(prefix="paged")
    pds.bulk_create(paged, records.COMMENT, 250, factory=lambda i: records.review_comment(eprint_uri=eprint.uri))
    big = pds.create_account(prefix="big")
    pds.bulk_create(big, records.COMMENT, 3000, factory=lambda i: records.review_comment(eprint_uri=eprint.uri))
    pds.bulk_create(big, records.ENDORSEMENT, 1500, factory=lambda i: records.review_endorsement(eprint_uri=eprint.uri))
    pds.bulk_create(big, records.GRAPH_NODE, 500, factory=lambda i: records.graph_node(label=f"node {i}"))
    # not Chive's: ignored
    pds.create_record(
        big, "app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": "x", "createdAt": records.now_iso()}
    )
    invalid = pds.create_record(one, records.SUBMISSION, {"$type": records.SUBMISSION, "title": 42}, validate=False)
    inactive = pds.create_account(prefix="inactive")
    pds.bulk_create(inactive, records.COMMENT, 3, factory=lambda i: records.review_comment(eprint_uri=eprint.uri))
    pds.deactivate_account(inactive)
    yield Population(empty, one, paged, big, inactive, invalid.uri, doc)
    pds.activate_account(pds.login(inactive))


@dataclass
class Server:
    app: Starlette
    client: httpx.AsyncClient

    async def call(self, nsid: str, body: dict[str, Any] | None = None, **params: str) -> httpx.Response:
        if body is not None:
            return await self.client.post(f"/xrpc/{nsid}", json=body, headers=ADMIN)
        return await self.client.get(f"/xrpc/{nsid}", params=params, headers=ADMIN)

    async def wait(self, op_id: str, limit: float = 180) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            op: dict[str, Any] = (await self.call(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=op_id)).json()[
                "operation"
            ]
            if op["status"] in ("completed", "partial", "failed", "cancelled"):
                return op
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"operation stuck: {op}")
            await asyncio.sleep(0.05)

    async def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        async with self.app.state.services.db.read() as conn:
            return [tuple(r) for r in await conn.fetchall(sql, args)]


def app_for(db_target: DbTarget, testnet: Testnet) -> Starlette:
    # handles are stored once verified: the DID document from the PLC, its `.test` handle resolved by the PDS
    settings = Settings(
        db=db_target, plc_url=testnet.plc_url, handle_resolver=testnet.pds_url, allow_private_network=True
    )
    return create_app(settings, authenticator=FixedTokens(), engine_config=FAST)


@pytest.fixture
async def server(db_target: DbTarget, testnet: Testnet) -> AsyncIterator[Server]:
    app = app_for(db_target, testnet)
    async with running_client(app) as client:
        yield Server(app, client)


async def test_pds_scan_indexes_exactly_what_the_pds_holds(
    testnet: Testnet, pds: PdsClient, population: Population, server: Server
) -> None:
    response = await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds_url + "/"})
    assert response.status_code == 200, response.text
    op = await server.wait(response.json()["operationId"])
    expected = expected_index(pds)

    indexed = set(await server.rows("SELECT uri, cid FROM records WHERE hidden = 0"))
    assert indexed == expected
    assert all("app.bsky" not in uri for uri, _ in indexed)
    assert op["status"] == "partial"  # the one invalid submission
    assert op["recordsFailed"] == 1
    assert op["params"] == {"pdsUrl": testnet.pds_url}  # normalised
    assert op["stage"] == "fetching_records"
    listed = [r for r in pds.list_repos() if r.get("active") is not False]
    assert op["totalRepos"] == op["processedRepos"] == len(listed)
    dead = await server.rows("SELECT error_type, context FROM dead_letters")
    assert len(dead) == 1
    assert dead[0][0] == "invalid_record"
    assert population.invalid_uri in dead[0][1]
    # the deactivated account: counted in the registry, nothing fetched, marked
    assert await server.rows("SELECT status FROM repos WHERE did = ?", population.inactive.did) == [("deactivated",)]
    assert await server.rows("SELECT count(*) FROM records WHERE did = ?", population.inactive.did) == [(0,)]
    repos = dict(await server.rows("SELECT did, handle FROM repos WHERE status = 'active'"))
    assert repos[population.big.did] == population.big.handle
    assert population.empty.did in repos
    pdses = (await server.call(ids.PUB_CHIVE_ADMIN_LIST_PDSES)).json()["stats"]
    assert pdses["items"][0]["url"] == testnet.pds_url
    assert pdses["items"][0]["status"] == "healthy"
    assert pdses["items"][0]["recordCount"] == len(expected)

    # a second scan changes nothing: same set, no row rewritten, nothing deleted
    writes_before = await server.rows("SELECT sum(writes), count(*) FROM records")
    again = await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan", "pdsUrl": testnet.pds_url})
    assert again.status_code == 200
    second = await server.wait(again.json()["operation"]["id"])
    assert second["id"] != op["id"]
    assert second["recordsProcessed"] == op["recordsProcessed"]
    assert await server.rows("SELECT sum(writes), count(*) FROM records") == writes_before

    # upstream changes are mirrored by the next scan: a delete and an update
    comment = pds.list_records(population.paged.did, records.COMMENT, limit=2)["records"]
    pds.delete_record(population.paged, records.COMMENT, comment[0]["uri"].rpartition("/")[2])
    updated = pds.put_record(
        population.paged,
        records.COMMENT,
        comment[1]["uri"].rpartition("/")[2],
        records.review_comment(eprint_uri=comment[1]["value"]["eprintUri"], text="revised"),
    )
    third = await server.wait(
        (await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds_url})).json()["operationId"]
    )
    assert third["status"] == "partial"
    indexed = set(await server.rows("SELECT uri, cid FROM records WHERE hidden = 0"))
    assert indexed == expected_index(pds)
    assert (updated.uri, updated.cid) in indexed
    assert comment[0]["uri"] not in {uri for uri, _ in indexed}

    # three scans met the same invalid record: one queue entry. Fixed upstream, a retry indexes it.
    entries = (await server.call(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()
    assert entries["total"] == 1
    assert entries["entries"][0]["uri"] == population.invalid_uri
    fixed = pds.put_record(
        population.one,
        records.SUBMISSION,
        population.invalid_uri.rpartition("/")[2],
        records.eprint_submission(submitted_by=population.one.did, document=population.document),
    )
    retry = await server.call(ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 0})
    assert retry.json()["success"] is True
    [(retry_id,)] = await server.rows("SELECT id FROM operations WHERE type = 'dlq-retry'")
    retry_op = await server.wait(retry_id)
    assert retry_op["status"] == "completed"
    assert (fixed.uri, fixed.cid) in set(await server.rows("SELECT uri, cid FROM records"))
    assert (await server.call(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()["total"] == 0


async def test_bad_pds_urls_are_refused_at_trigger_time(server: Server) -> None:
    for url in ("ftp://pds.example", "https://pds.example/xrpc", "https://pds.example?x=1", "https://u:p@pds.example"):
        response = await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url})
        assert response.status_code == 400, url
        assert response.json()["error"] == "InvalidRequest"
    assert await server.rows("SELECT count(*) FROM operations") == [(0,)]


async def test_an_unreachable_pds_fails_with_an_error_code(server: Server) -> None:
    from support.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    response = await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url})
    op = await server.wait(response.json()["operationId"])
    assert (op["status"], op["errorCode"]) == ("failed", "pds_unreachable")
    assert op["errorContext"]["host"] == url
    pdses = (await server.call(ids.PUB_CHIVE_ADMIN_LIST_PDSES)).json()["stats"]["items"]
    assert pdses[0]["url"] == url
    assert pdses[0]["errorCount"] == 1


async def test_cancel_mid_scan_stops_within_one_batch(testnet: Testnet, population: Population, server: Server) -> None:
    response = await server.call(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": testnet.pds_url})
    op_id = response.json()["operationId"]
    while True:
        op = (await server.call(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=op_id)).json()["operation"]
        if op["recordsProcessed"] >= 200:
            break
        assert op["status"] in ("queued", "running"), op
        await asyncio.sleep(0.01)
    assert (await server.call(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id})).json() == {"success": True}
    at_request = (await server.rows("SELECT count(*) FROM records"))[0][0]
    ended = await server.wait(op_id)
    assert ended["status"] == "cancelled"
    kept = (await server.rows("SELECT count(*) FROM records"))[0][0]
    assert kept - at_request <= pds_scan.MOST_IN_A_BATCH  # at most one more batch
    assert kept == ended["recordsProcessed"] - ended["recordsFailed"]
