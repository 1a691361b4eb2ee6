"""governance-sync resuming an op the previous version stored, against a scripted PLC directory and PDS (syncs of a
real governance repository are in tests/interop/backfill/test_governance_sync.py)."""

from __future__ import annotations

from conftest import AppFactory, running_client
from support.auth import FixedTokens
from support.car_host import CAR, car_host
from support.cars import DID, build_car
from support.engine import engine_config
from support.resume import ended, left_off
from support.scripted import Answer

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
        async with running_client(app) as _:
            progress = operations.Progress(stage="fetching_repo")
            op = await ended(app, await left_off(app, "governance-sync", {}, None, progress=progress))
            async with app.state.services.db.read() as conn:
                held = await index.record_cids(conn, DID)
    assert (op.status, op.attempts, op.checkpoint) == ("completed", 2, None)
    assert list(held) == [records.at_uri(DID, records.GRAPH_NODE, node["id"])]  # its scope: the graph only
