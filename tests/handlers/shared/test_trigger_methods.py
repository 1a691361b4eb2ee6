"""The per-type trigger methods (triggerPDSScan, triggerDIDSync, …): the trigger path with one fixed type, answering
the operation's id; what a type's own checks refuse is refused here too."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import AppFactory
from support.admin_api import Api, refusal, serving
from support.auth import FixedTokens
from support.engine import engine_config

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.backfill.job_types import TRIGGER_METHODS
from chive_admin.handlers import HANDLERS
from chive_admin.handlers.shared.trigger_methods import handler_for
from chive_admin.store import operations as ops

GOVERNANCE = "did:plc:governance000000000000000"
DID = "did:plc:abcdefghijklmnopqrstuvwx"

#: a body of each method and the params its operation stores
CALLS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN: ({"pdsUrl": "http://127.0.0.1:1"}, {"pdsUrl": "http://127.0.0.1:1"}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC: ({"did": DID}, {"did": DID}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN: ({"tier": "warm"}, {"tier": "warm"}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION: ({}, {}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX: ({}, {"batchSize": 500}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC: ({}, {}),
}


@pytest.fixture
async def governed(make_app: AppFactory) -> AsyncIterator[Api]:
    app = make_app(authenticator=FixedTokens(), governance_did=GOVERNANCE, engine_config=engine_config(workers=0))
    async with serving(app) as api:
        yield api


def test_every_lexicon_type_has_its_method_served() -> None:
    assert set(TRIGGER_METHODS.values()) == set(CALLS)
    assert all(nsid in HANDLERS for nsid in CALLS)
    assert HANDLERS[ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC].__name__ == "trigger_did_sync"


@pytest.mark.parametrize("nsid", sorted(CALLS))
async def test_each_method_queues_its_type_and_answers_its_id(governed: Api, nsid: str) -> None:
    body, params = CALLS[nsid]
    response = await governed.post(nsid, body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"operationId"}
    async with governed.services.db.read() as conn:
        op = await ops.get(conn, response.json()["operationId"])
    assert op is not None
    op_type = next(kind for kind, method in TRIGGER_METHODS.items() if method == nsid)
    assert (op.type, op.params, op.status) == (op_type, params, "queued")
    again = await governed.post(nsid, body)
    assert again.json() == response.json()  # still queued: the same operation


async def test_a_type_whose_checks_refuse_the_request_queues_nothing(api: Api) -> None:
    # the test app has no governance repository, and this eprint is not indexed
    refused = refusal(await api.post(ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC, {}), 400, "InvalidRequest")
    assert "--governance-did" in refused
    uri = f"at://{DID}/pub.chive.eprint.submission/a1"
    response = await api.post(ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": uri})
    assert "is not an indexed pub.chive.eprint.submission" in refusal(response, 400, "InvalidRequest")
    async with api.services.db.read() as conn:
        assert await ops.list_active(conn, 10) == []


def test_a_trigger_route_without_an_output_is_refused_at_import() -> None:
    route = dataclasses.replace(ROUTES[ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN], output=None)
    with pytest.raises(TypeError, match="declares no output"):
        handler_for("pds-scan", route)
