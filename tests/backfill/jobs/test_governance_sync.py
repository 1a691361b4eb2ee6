"""governance-sync resuming an op the previous version stored, against a scripted PLC directory and PDS (syncs of a
real governance repository are in tests/interop/backfill/test_governance_sync.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory, running_client
from support.api import call
from support.auth import FixedTokens
from support.car_host import CAR, car_host
from support.cars import DID, build_car
from support.engine import engine_config
from support.pds import ScriptedPds
from support.resume import ended, left_off
from support.scripted import Answer
from support.served import FAST, Served

from chive_admin._generated import ids
from chive_admin.store import index, operations
from testnet import records


async def test_a_sync_stored_by_the_previous_version_runs_again_from_the_start(make_app: AppFactory) -> None:
    # like did-sync, it stored no checkpoint (NULL): a resumed sync fetches the repository again
    node = records.graph_node(label="Computer Science", node_id=records.stable_uuid("field/cs"), created_by=DID)
    comment = records.review_comment(eprint_uri=records.at_uri(DID, records.SUBMISSION, "e1"))
    car = build_car({f"{records.GRAPH_NODE}/{node['id']}": node, f"{records.COMMENT}/3kabc": comment})
    with car_host() as (url, _, answers):
        answers.append(Answer(200, car, {"content-type": CAR}))
        app = make_app(
            authenticator=FixedTokens(), engine_config=engine_config(workers=1), plc_url=url, governance_did=DID
        )
        async for _ in running_client(app):
            progress = operations.Progress(stage="fetching_repo")
            op = await ended(app, await left_off(app, "governance-sync", {}, None, progress=progress))
            async with app.state.services.db.read() as conn:
                held = await index.record_cids(conn, DID)
    assert (op.status, op.attempts, op.checkpoint) == ("completed", 2, None)
    assert list(held) == [records.at_uri(DID, records.GRAPH_NODE, node["id"])]  # its scope: the graph only


GOVERNANCE = records.GOVERNANCE_DID


EPRINT = "at://did:plc:authorauthorauthorauthora/pub.chive.eprint.submission/3kaaaaaaaaaaa"


@pytest.fixture
async def governed(make_app: AppFactory, pds: ScriptedPds) -> AsyncIterator[Served]:
    """The server configured with ``GOVERNANCE`` as its governance repository, hosted on the scripted PDS."""
    pds.repo(GOVERNANCE)
    app = make_app(
        authenticator=FixedTokens(), engine_config=FAST, plc_url=pds.url, upstream_attempts=1, governance_did=GOVERNANCE
    )
    async for client in running_client(app):
        yield Served(app, client)


async def test_without_a_governance_repository_the_trigger_is_refused(served: Served) -> None:
    for nsid, body in (
        (ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC, {}),
        (ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "governanceSync"}),
    ):
        response = await call(served.client, nsid, body)
        assert response.status_code == 400
        assert response.json() == {
            "error": "InvalidRequest",
            "message": "No governance repository is configured (start the server with --governance-did)",
        }
    assert await served.rows("SELECT count(*) FROM operations") == [(0,)]


async def test_the_graph_records_of_the_governance_repository_are_mirrored(pds: ScriptedPds, governed: Served) -> None:
    node = records.graph_node(label="Computer Science", node_id="0b5e1a4c-0000-4000-8000-000000000001")
    other = records.graph_node(label="Linguistics", node_id="0b5e1a4c-0000-4000-8000-000000000002")
    kept = pds.put(GOVERNANCE, records.GRAPH_NODE, node["id"], node)
    dropped = pds.put(GOVERNANCE, records.GRAPH_NODE, other["id"], other)
    # not a graph record, even in the governance repository: not governance-sync's to mirror
    pds.put(GOVERNANCE, records.COMMENT, "3kaaaaaaaaaa1", records.review_comment(eprint_uri=EPRINT))
    first = await governed.run(ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC)
    assert (first["status"], first["type"], first["counts"]["inserted"]) == ("completed", "governance-sync", 2)
    assert {uri for (uri,) in await governed.rows("SELECT uri FROM records")} == {kept, dropped}
    pds.delete(GOVERNANCE, records.GRAPH_NODE, other["id"])
    again = await governed.run(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "governanceSync"})
    assert (again["status"], again["counts"]["deleted"]) == ("completed", 1)
    assert {uri for (uri,) in await governed.rows("SELECT uri FROM records")} == {kept}
