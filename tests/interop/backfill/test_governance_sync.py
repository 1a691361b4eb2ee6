"""governance-sync against a real governance repository: graph records appear, deleted ones go, other collections
of that repository are not touched; getGraphStats counts what is indexed; no governance DID → refused at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from interop.ops import run_op, served_app
from support.api import call

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop


@pytest.fixture
def governance(pds: PdsClient) -> Account:
    return pds.create_account(prefix="gov")


def app_client(db_target: DbTarget, testnet: Testnet, governance_did: str | None) -> Any:
    settings = Settings(
        db=db_target, plc_url=testnet.plc_url, governance_did=governance_did, allow_private_network=True
    )
    return served_app(settings)


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await call(client, ids.PUB_CHIVE_ADMIN_GET_GRAPH_STATS)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def test_graph_records_are_mirrored(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient, governance: Account
) -> None:
    nodes = [
        records.graph_node(label=f"Field {i}", kind="type" if i % 2 else "object", created_by=governance.did)
        for i in range(6)
    ]
    refs = [pds.create_record(governance, records.GRAPH_NODE, n, rkey=n["id"]) for n in nodes]
    edge = records.graph_edge(source_uri=refs[0].uri, target_uri=refs[1].uri, created_by=governance.did)
    pds.create_record(governance, records.GRAPH_EDGE, edge, rkey=edge["id"])
    # not an authority record: governance-sync leaves it alone
    pds.create_record(governance, records.COMMENT, records.review_comment(eprint_uri=refs[0].uri))

    async with app_client(db_target, testnet, governance.did) as client:
        assert (await stats(client))["nodeCount"] == 0
        first = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC, {})
        assert first["status"] == "completed", first
        assert await stats(client) == {
            "nodeCount": 6,
            "edgeCount": 1,
            "nodesByKind": {"object": 3, "type": 3},
            "edgesByRelation": {"broader": 1},
        }
        async with client._transport.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
            comments = await conn.fetchall("SELECT count(*) FROM records WHERE collection = ?", (records.COMMENT,))
        assert comments[0][0] == 0

        pds.delete_record(governance, records.GRAPH_NODE, refs[2].rkey)
        second = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC, {})
        assert second["counts"]["deleted"] == 1
        assert (await stats(client))["nodeCount"] == 5


async def test_without_a_governance_did_the_trigger_is_refused(db_target: DbTarget, testnet: Testnet) -> None:
    async with app_client(db_target, testnet, None) as client:
        response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC, {})
        assert response.status_code == 400
        assert "--governance-did" in response.json()["message"]
        generic = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "governanceSync"})
        assert generic.status_code == 400
