"""listEndorsements: visible endorsements newest first by the record's createdAt, each with the eprint it endorses,
its repository and that repository's verified handle (the paging is ``test_review_pages``')."""

from __future__ import annotations

from support.accounts import ADA, seed_accounts
from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_endorsements
from chive_admin.store import index, takedowns
from chive_admin.store.index import IndexedRecord
from testnet import records

METHOD = ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS


async def test_visible_endorsements_field_by_field(api: Api) -> None:
    seeded = await seed_accounts(api.services.db)
    later = records.review_endorsement(eprint_uri=seeded.eprint_uri, created_at="2099-01-01T00:00:00.000Z")
    row = IndexedRecord.from_parts(ADA, records.ENDORSEMENT, "d9", records.raw_cid(b"d9"), later)
    async with api.services.db.write() as conn:
        await index.upsert_records(conn, [row], "t")
    response = await api.get(METHOD, {"limit": "1"})
    assert response.json() == {
        "items": [
            {
                "uri": row.uri,
                "eprintUri": seeded.eprint_uri,
                "authorDid": ADA,
                "authorHandle": "ada.test",
                "createdAt": "2099-01-01T00:00:00.000Z",
            }
        ],
        "total": 2,
        "cursor": f"2099-01-01T00:00:00.000Z::{row.uri}",
    }
    answer(response, list_endorsements.Output)
    async with api.services.db.write() as conn:
        await takedowns.take_down(conn, row.uri, records.ENDORSEMENT, None, "did:plc:admin", "t")
    after = answer(await api.get(METHOD), list_endorsements.Output)
    assert (after.total, after.cursor, [i.uri for i in after.items or []]) == (
        1,
        None,
        [records.at_uri(ADA, records.ENDORSEMENT, "d1")],
    )


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({"limit": "0"}, {"limit": "101"}, {"cursor": "-5"}, {"did": ADA}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
