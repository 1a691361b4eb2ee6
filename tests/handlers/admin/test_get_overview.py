"""getOverview: visible records of each kind from the maintained counters; authors are repositories with a profile,
collections leave out the governance repository's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory
from support.admin_api import USER, Api, answer, refusal, serving
from support.auth import ADMIN_DID, FixedTokens
from support.engine import engine_config

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_overview
from chive_admin.store import index, takedowns
from chive_admin.store.index import IndexedRecord

METHOD = ids.PUB_CHIVE_ADMIN_GET_OVERVIEW
ALICE = "did:plc:overviewalice0000000000000"
BOB = "did:plc:overviewbob000000000000000"
GOVERNANCE = "did:plc:overviewgovernance00000000"


@pytest.fixture
async def governed(make_app: AppFactory) -> AsyncIterator[Api]:
    app = make_app(authenticator=FixedTokens(), governance_did=GOVERNANCE, engine_config=engine_config(workers=0))
    async with serving(app) as running:
        yield running


def rec(did: str, collection: str, rkey: str, **value: object) -> IndexedRecord:
    return IndexedRecord.from_parts(did, collection, rkey, f"c-{rkey}", dict(value))


async def test_each_count_field_by_field(governed: Api) -> None:
    empty = {"eprints": 0, "authors": 0, "reviews": 0, "endorsements": 0, "collections": 0, "tags": 0}
    assert (await governed.get(METHOD)).json() == empty
    taken = rec(BOB, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e3", title="gone")
    async with governed.services.db.write() as conn:
        await index.upsert_records(
            conn,
            [
                rec(ALICE, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e1", title="a"),
                rec(BOB, ids.PUB_CHIVE_EPRINT_SUBMISSION, "e2", title="b"),
                taken,
                rec(BOB, ids.PUB_CHIVE_REVIEW_COMMENT, "r1", text="r"),
                rec(ALICE, ids.PUB_CHIVE_REVIEW_ENDORSEMENT, "d1", eprintUri=taken.uri),
                rec(ALICE, ids.PUB_CHIVE_EPRINT_USER_TAG, "t1", tag="x"),
                rec(ALICE, ids.PUB_CHIVE_EPRINT_USER_TAG, "t2", tag="y"),
                rec(ALICE, ids.PUB_CHIVE_ACTOR_PROFILE, "self", displayName="Alice"),
                rec(BOB, ids.PUB_CHIVE_ACTOR_PROFILE, "self", displayName="Bob"),
                rec(ALICE, ids.PUB_CHIVE_GRAPH_NODE, "n1", subkind="collection"),
                rec(ALICE, ids.PUB_CHIVE_GRAPH_NODE, "n2", subkind="field"),
                rec(GOVERNANCE, ids.PUB_CHIVE_GRAPH_NODE, "n3", subkind="collection"),
            ],
            "t0",
        )
        await takedowns.take_down(conn, taken.uri, taken.collection, None, ADMIN_DID, "t1")
    response = await governed.get(METHOD)
    assert response.json() == {
        "eprints": 2,
        "authors": 2,
        "reviews": 1,
        "endorsements": 1,
        "collections": 1,
        "tags": 2,
    }
    answer(response, get_overview.Output)
    async with governed.services.db.write() as conn:
        await index.set_repo_hidden(conn, BOB, True)
    assert (await governed.get(METHOD)).json() == {
        "eprints": 1,
        "authors": 1,
        "reviews": 0,
        "endorsements": 1,
        "collections": 1,
        "tags": 2,
    }


async def test_without_a_governance_repository_every_collection_counts(api: Api) -> None:
    async with api.services.db.write() as conn:
        await index.upsert_records(conn, [rec(GOVERNANCE, ids.PUB_CHIVE_GRAPH_NODE, "n3", subkind="collection")], "t0")
    assert (await api.get(METHOD)).json()["collections"] == 1


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, {"limit": "1"}), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
