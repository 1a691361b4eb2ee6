"""listImports: visible submissions of the repositories on one PDS (``source``, normalised like the PDS registry),
or of all; the source and limit echoed; a source that is no http(s) origin refused."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal
from support.auth import ADMIN_DID

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_imports
from chive_admin.store import index, takedowns
from chive_admin.store.index import IndexedRecord

METHOD = ids.PUB_CHIVE_ADMIN_LIST_IMPORTS
ALICE = "did:plc:importsalice00000000000000"
BOB = "did:plc:importsbob0000000000000000"
CAROL = "did:plc:importscarol00000000000000"


def submission(did: str, rkey: str) -> IndexedRecord:
    return IndexedRecord.from_parts(did, ids.PUB_CHIVE_EPRINT_SUBMISSION, rkey, f"c{rkey}", {"title": rkey})


async def test_counts_per_source_field_by_field(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"totalEprints": 0, "limit": 50}
    taken = submission(ALICE, "a3")
    async with api.services.db.write() as conn:
        await index.upsert_repo(conn, ALICE, "t0", pds_url="https://pds-a.example")
        await index.upsert_repo(conn, BOB, "t0", pds_url="https://pds-a.example")
        await index.upsert_repo(conn, CAROL, "t0", pds_url="http://127.0.0.1:2583")
        await index.upsert_records(
            conn,
            [submission(ALICE, "a1"), submission(ALICE, "a2"), taken, submission(BOB, "b1"), submission(CAROL, "c1")],
            "t0",
        )
        await index.upsert_records(
            conn, [IndexedRecord.from_parts(BOB, ids.PUB_CHIVE_REVIEW_COMMENT, "r1", "cr", {"text": "x"})], "t0"
        )
        await takedowns.take_down(conn, taken.uri, taken.collection, None, ADMIN_DID, "t1")
    response = await api.get(METHOD, {"source": "HTTPS://PDS-A.example/", "limit": 3})
    assert response.json() == {"totalEprints": 3, "source": "https://pds-a.example", "limit": 3}
    answer(response, list_imports.Output)
    assert (await api.get(METHOD)).json() == {"totalEprints": 4, "limit": 50}
    local = await api.get(METHOD, {"source": "http://127.0.0.1:2583"})
    assert local.json() == {"totalEprints": 1, "source": "http://127.0.0.1:2583", "limit": 50}
    assert (await api.get(METHOD, {"source": "https://unknown.example"})).json()["totalEprints"] == 0


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in (
        {"source": "arxiv"},
        {"source": "ftp://pds.example"},
        {"source": "https://pds.example/xrpc"},
        {"source": "https://user:pw@pds.example"},
        {"source": ""},
        {"limit": 0},
        {"limit": 101},
        {"offset": 1},
    ):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
