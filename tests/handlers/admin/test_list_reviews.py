"""listReviews: visible reviews newest first by the record's createdAt, each with the eprint it is about, its
repository and that repository's verified handle (the paging is ``test_review_pages``')."""

from __future__ import annotations

from support.accounts import ADA, BEN, seed_accounts
from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_reviews
from chive_admin.store import index
from chive_admin.store.sql import json_text

METHOD = ids.PUB_CHIVE_ADMIN_LIST_REVIEWS


async def test_visible_reviews_field_by_field(api: Api) -> None:
    assert (await api.get(METHOD)).json() == {"items": [], "total": 0}
    seeded = await seed_accounts(api.services.db)
    async with api.services.db.read() as conn:
        created = dict(await conn.fetchall(f"SELECT uri, {json_text(conn.dialect, 'value', 'createdAt')} FROM records"))
    response = await api.get(METHOD)
    ada_review, ben_review = seeded.review_uris
    expected = [
        {"uri": ada_review, "eprintUri": seeded.eprint_uri, "authorDid": ADA, "authorHandle": "ada.test"},
        {"uri": ben_review, "eprintUri": seeded.eprint_uri, "authorDid": BEN},  # no verified handle: none shown
    ]
    for item in expected:
        item["createdAt"] = created[item["uri"]]
    body = response.json()
    assert body["total"] == 2  # hidden repositories and takedowns are not counted
    assert "cursor" not in body
    assert sorted(body["items"], key=lambda i: i["uri"]) == sorted(expected, key=lambda i: i["uri"])
    assert body["items"] == sorted(body["items"], key=lambda i: (i["createdAt"], i["uri"]), reverse=True)
    answer(response, list_reviews.Output)
    async with api.services.db.write() as conn:
        await index.set_repo_hidden(conn, BEN, True)  # deactivated upstream
    assert [i["uri"] for i in (await api.get(METHOD)).json()["items"]] == [ada_review]


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({"limit": "0"}, {"limit": "101"}, {"cursor": "x"}, {"offset": "1"}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
