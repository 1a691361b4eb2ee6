"""AtprotoClient through the fault proxy in front of a real testnet PDS: at 30 % faults every read is exact.

"Exact" means equal to a direct read of the same PDS (no proxy) and to what the seeding wrote: every record once,
same URIs, CIDs and values, in the PDS's order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from atproto_crypto.did import get_did_key
from faults.proxy import TRANSIENT, Fault, FaultConfig, FaultProxy

from chive_admin.ingest.fetch import RepoContents, fetch_by_export, fetch_by_listing
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.calls import RetryPolicy, XrpcCaller
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.hosts import HostLimits, HostPolicy, host_key
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient, RecordRef

pytestmark = pytest.mark.interop

COMMENTS = 600
NODES = 150
#: retries fast and 429 waits short; a stall costs one read timeout (the PDS answers a page in milliseconds)
RETRY = RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.05, max_429_wait=0.1)
TIMEOUT = httpx.Timeout(30.0, read=2.0)
#: a 200 that is not a CAR is taken as the export (tests/upstream/test_faults.py has the strict xfail)
EXPORT_KINDS = tuple(f for f in TRANSIENT if f is not Fault.INVALID_JSON)


@dataclass
class Seeded:
    account: Account
    comments: list[RecordRef]
    nodes: list[RecordRef]


@pytest.fixture(scope="module")
def seeded(pds: PdsClient) -> Seeded:
    account = pds.create_account(prefix="faults")
    doc = pds.upload_blob(account, records.minimal_pdf(), "application/pdf")
    eprint = pds.create_record(
        account, records.SUBMISSION, records.eprint_submission(submitted_by=account.did, document=doc)
    )
    comments = pds.bulk_create(
        account,
        records.COMMENT,
        COMMENTS,
        factory=lambda i: records.review_comment(eprint_uri=eprint.uri, text=f"comment {i} ✓"),
    )
    nodes = pds.bulk_create(account, records.GRAPH_NODE, NODES, factory=lambda i: records.graph_node(label=f"n{i}"))
    return Seeded(account, comments, nodes)


def client_for(http: httpx.AsyncClient) -> tuple[AtprotoClient, HostPolicy]:
    hosts = HostPolicy(HostLimits(failures_to_trip=RETRY.attempts))
    return AtprotoClient(XrpcCaller(http, hosts, RETRY)), hosts


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with upstream_http(allow_private=True, timeout=TIMEOUT) as client:
        yield client


async def read_collection(client: AtprotoClient, url: str, did: str, collection: str) -> list[dict[str, Any]]:
    return [
        {"uri": r.uri, "cid": r.cid, "value": r.value}
        async for page in client.iter_record_pages(url, did, collection)
        for r in page.records
    ]


def signing_key(testnet: Testnet, did: str) -> str:
    doc = httpx.get(f"{testnet.plc_url}/{did}", timeout=10).json()
    method = next(vm for vm in doc["verificationMethod"] if vm["id"].endswith("#atproto"))
    key = get_did_key(method["type"], method["publicKeyMultibase"])
    assert key is not None
    return key


def as_rows(contents: RepoContents) -> list[tuple[str, str, Any]]:
    return sorted((r.uri, r.cid, r.value) for r in contents.records)


@pytest.mark.parametrize("seed", [21, 22])
async def test_listing_at_30_percent_faults_equals_a_direct_read(
    testnet: Testnet, seeded: Seeded, http: httpx.AsyncClient, seed: int
) -> None:
    did = seeded.account.did
    client, hosts = client_for(http)
    direct = {c: await read_collection(client, testnet.pds_url, did, c) for c in (records.COMMENT, records.GRAPH_NODE)}
    assert {r["uri"] for r in direct[records.COMMENT]} == {ref.uri for ref in seeded.comments}
    assert {(r["uri"], r["cid"]) for r in direct[records.GRAPH_NODE]} == {(n.uri, n.cid) for n in seeded.nodes}

    async with FaultProxy(testnet.pds_url, FaultConfig(rate=0.3, seed=seed)) as proxy:
        proxied = {c: await read_collection(client, proxy.url, did, c) for c in (records.COMMENT, records.GRAPH_NODE)}
        listed = await fetch_by_listing(client, proxy.url, did)  # describeRepo + every indexed collection
        stats = proxy.stats()
        assert hosts.is_healthy(host_key(proxy.url))

    assert proxied == direct  # every record once, same CIDs and values, same order
    assert len(proxied[records.COMMENT]) == COMMENTS
    assert sorted(r.uri for r in listed.records if r.collection == records.COMMENT) == sorted(
        r["uri"] for r in direct[records.COMMENT]
    )
    assert len(listed.records) == COMMENTS + NODES + 1  # + the eprint
    assert stats.faulted >= 5
    assert stats.upstream_errors == 0


async def test_repo_list_at_30_percent_faults_equals_a_direct_read(
    testnet: Testnet, seeded: Seeded, http: httpx.AsyncClient
) -> None:
    client, _ = client_for(http)
    direct = [page async for page in client.iter_repo_pages(testnet.pds_url)]
    async with FaultProxy(testnet.pds_url, FaultConfig(rate=0.3, seed=31, paths=("/xrpc/com.atproto.sync.",))) as proxy:
        # several passes: the testnet has few accounts (one page each), so repeat for a meaningful fault count
        passes = [[page async for page in client.iter_repo_pages(proxy.url)] for _ in range(10)]
        stats = proxy.stats()
    rows = [r.did for page in direct for r in page.repos]
    assert seeded.account.did in rows
    for got in passes:
        assert [r.model_dump() for page in got for r in page.repos] == [
            r.model_dump() for page in direct for r in page.repos
        ]
    assert stats.faulted >= 3


async def test_verified_export_at_30_percent_faults_equals_a_direct_read(
    testnet: Testnet, seeded: Seeded, http: httpx.AsyncClient
) -> None:
    did = seeded.account.did
    key = signing_key(testnet, did)
    client, _ = client_for(http)
    direct = await fetch_by_export(client, testnet.pds_url, did, key)
    assert len(direct.records) == COMMENTS + NODES + 1
    media = httpx.get(f"{testnet.pds_url}/xrpc/com.atproto.sync.getRepo", params={"did": did}, timeout=30)
    assert media.headers["content-type"] == "application/vnd.ipld.car"  # what a content-type check would expect

    async with FaultProxy(testnet.pds_url, FaultConfig(rate=0.3, seed=41, kinds=EXPORT_KINDS)) as proxy:
        exports = [await fetch_by_export(client, proxy.url, did, key) for _ in range(8)]
        stats = proxy.stats()
    for exported in exports:
        assert as_rows(exported) == as_rows(direct)
        assert exported.rev == direct.rev
    assert stats.faulted >= 2
