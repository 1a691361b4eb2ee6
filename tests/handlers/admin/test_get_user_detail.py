"""getUserDetail: one account's counts of visible eprints (by submittedBy), reviews and endorsements, its profile's
displayName, roles (the table's and the bootstrap admins'), first-seen time and verified handle; NotFound for a DID
we hold nothing visible of."""

from __future__ import annotations

from support.accounts import ADA, ADA_SEEN, BEN, BEN_SEEN, GONE, TAKEN, seed_accounts
from support.admin_api import BOOTSTRAP_ADMIN, USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_user_detail
from chive_admin.store import index

METHOD = ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL


async def test_an_account_field_by_field(keyed: Api) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    refusal(await keyed.get(METHOD, {"did": ADA}, headers=admin), 400, "NotFound")
    await seed_accounts(keyed.services.db)
    ada = await keyed.get(METHOD, {"did": ADA}, headers=admin)
    assert ada.json() == {
        "did": ADA,
        "handle": "ada.test",
        "displayName": "Ada Lovelace",
        "eprintCount": 1,  # e2 is in Ada's repository, but Ben submitted it
        "reviewCount": 1,  # c2 is taken down
        "endorsementCount": 1,
        "roles": ["moderator"],
        "createdAt": ADA_SEEN,
    }
    answer(ada, get_user_detail.Output)
    assert (await keyed.get(METHOD, {"did": BEN}, headers=admin)).json() == {
        "did": BEN,
        "eprintCount": 1,
        "reviewCount": 1,
        "endorsementCount": 0,
        "roles": [],
        "createdAt": BEN_SEEN,
    }
    for nothing_visible in (GONE, TAKEN, "did:plc:neverseen0000000000000000"):
        refusal(await keyed.get(METHOD, {"did": nothing_visible}, headers=admin), 400, "NotFound")


async def test_a_bootstrap_admin_is_admin_whatever_the_table_says(keyed: Api) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    await seed_accounts(keyed.services.db)
    async with keyed.services.db.write() as conn:
        await index.upsert_records(
            conn, [index.IndexedRecord.from_parts(BOOTSTRAP_ADMIN, "pub.chive.actor.profile", "self", "c", {})], "t"
        )
        await index.upsert_repo(conn, BOOTSTRAP_ADMIN, "2026-02-01T00:00:00.000Z")
    detail = answer(await keyed.get(METHOD, {"did": BOOTSTRAP_ADMIN}, headers=admin), get_user_detail.Output)
    assert detail.roles == ["admin"]


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({}, {"did": "nope"}, {"did": ADA, "limit": "1"}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, {"did": ADA}, headers=USER), 403, "AdminRequired")
