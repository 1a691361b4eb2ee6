"""The network backfill against the real testnet: two PDSes with accounts spread over them, a relay on loopback that
learnt their collections the way collectiondir bootstraps (listRepos, then describeRepo), a pds-scan with no
pdsUrl. It finds and indexes every account holding pub.chive records and no other, skips the stale DIDs a relay
keeps (a deleted account, a DID nobody registered) and a deactivated account, registers both PDSes, and ends
completed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from interop.ops import expected_index, run_op, served_app
from support.auth import ADMIN
from support.relay import index_pdses, loopback_relay

from chive_admin._generated import ids
from chive_admin.repo.validate import is_indexed, record_problem
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

NOBODY = "did:plc:neverregisteredanywhere00"


@dataclass
class Network:
    alice: Account
    bob: Account
    carol: Account
    deleted: str
    deactivated: Account


@pytest.fixture(scope="module")
def network(pds: PdsClient, pds2: PdsClient, backend: str) -> Network:
    """Made once per backend. alice (comments) on the first PDS, bob (a comment, an endorsement, a graph node: three
    collections) and carol (nothing of ours) on the second; an account with a comment, deleted; one deactivated."""
    del backend
    alice = pds.create_account(prefix="netalice")
    eprint = records.at_uri(alice.did, records.SUBMISSION, "e1")
    pds.bulk_create(alice, records.COMMENT, 3, factory=lambda i: records.review_comment(eprint_uri=eprint))
    bob = pds2.create_account(prefix="netbob")
    pds2.create_record(bob, records.COMMENT, records.review_comment(eprint_uri=eprint))
    pds2.create_record(bob, records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint))
    pds2.create_record(bob, records.GRAPH_NODE, records.graph_node(label="bob's node"))
    carol = pds2.create_account(prefix="netcarol")
    post = {"$type": "app.bsky.feed.post", "text": "not ours", "createdAt": records.now_iso()}
    pds2.create_record(carol, "app.bsky.feed.post", post)
    gone = pds.create_account(prefix="netgone")
    pds.create_record(gone, records.COMMENT, records.review_comment(eprint_uri=eprint))
    deactivated = pds2.create_account(prefix="netoff")
    pds2.create_record(deactivated, records.COMMENT, records.review_comment(eprint_uri=eprint))
    return Network(alice, bob, carol, gone.did, deactivated)


def indexable(*clients: PdsClient) -> tuple[set[tuple[str, str]], int]:
    """(uri, cid) of every valid record of every active repository of these PDSes, and how many are invalid."""
    expected = set().union(*(expected_index(client) for client in clients))
    invalid = 0
    for client in clients:
        for repo in client.list_repos():
            if repo.get("active") is False:
                continue
            for collection in client.describe_repo(repo["did"]).get("collections", []):
                if is_indexed(collection):
                    listed = client.list_all_records(repo["did"], collection)
                    invalid += sum(record_problem(collection, r["value"]) is not None for r in listed)
    return expected, invalid


async def test_a_network_backfill_indexes_every_account_with_chive_records_on_every_pds(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient, pds2: PdsClient, network: Network
) -> None:
    # the relay saw every pub.chive collection of both PDSes, then the deletion and deactivation happened: it still
    # lists those DIDs, and one nobody ever registered
    with loopback_relay(index_pdses([testnet.pds_url, testnet.pds2_url])) as relay:
        relay.stale = {records.COMMENT: [NOBODY]}
        relay.max_page = 3  # several pages per collection, each full one with a cursor
        pds.delete_account_admin(network.deleted)
        pds2.deactivate_account(network.deactivated)
        try:
            expected, invalid = indexable(pds, pds2)
            settings = Settings(
                db=db_target,
                plc_url=testnet.plc_url,
                relay_url=relay.url,
                handle_resolver=testnet.pds_url,
                allow_private_network=True,
            )
            async with served_app(settings) as client:
                op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan"}, limit=300)
                rows = client.app.state.services.db  # type: ignore[attr-defined]
                async with rows.read() as conn:
                    indexed = {
                        (r[0], r[1]) for r in await conn.fetchall("SELECT uri, cid FROM records WHERE hidden = 0")
                    }
                    held = {r[0] for r in await conn.fetchall("SELECT DISTINCT did FROM records")}
                    gone = dict(await conn.fetchall("SELECT did, status FROM repos WHERE status != 'active'"))
                listed = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=ADMIN)
        finally:
            pds2.activate_account(pds2.login(network.deactivated))

    assert op["status"] == ("partial" if invalid else "completed"), op
    assert op["recordsFailed"] == invalid
    assert indexed == expected
    assert {network.alice.did, network.bob.did} <= held
    assert network.carol.did not in held  # on a PDS, but no record of ours: the relay never named her
    assert gone[network.deleted] == "deleted"
    assert gone[network.deactivated.did] == "deactivated"
    # every DID the relay listed, once, each handled: NOBODY is stale, the rest resolved
    distinct = {did for dids in relay.index.values() for did in dids} | {NOBODY}
    assert op["totalRepos"] == op["processedRepos"] == len(distinct)
    assert op["counts"]["stale_not_found"] == 1
    assert op["counts"]["resolved"] == len(distinct) - 1
    urls = {item["url"] for item in listed.json()["stats"]["items"]}
    assert {testnet.pds_url, testnet.pds2_url} <= urls
    # bob's three collections were each asked for, page after page, and bob fetched once
    for collection in (records.COMMENT, records.ENDORSEMENT, records.GRAPH_NODE):
        assert (collection, None) in relay.requests
