"""searchUsers: a case-insensitive prefix of the verified handle (a leading @ ignored) or of the DID, no wildcard in
the query, only accounts we hold something visible of, each a userDetail."""

from __future__ import annotations

from support.accounts import ADA, ADA_SEEN, BEN, seed_accounts
from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import search_users

METHOD = ids.PUB_CHIVE_ADMIN_SEARCH_USERS


async def found(api: Api, query: str, **params: str) -> list[str]:
    return [user.did for user in answer(await api.get(METHOD, {"query": query, **params}), search_users.Output).users]


async def test_prefixes_of_handles_and_dids(api: Api) -> None:
    assert (await api.get(METHOD, {"query": "ada"})).json() == {"users": []}
    await seed_accounts(api.services.db)
    response = await api.get(METHOD, {"query": "@ADA."})
    assert response.json() == {
        "users": [
            {
                "did": ADA,
                "handle": "ada.test",
                "displayName": "Ada Lovelace",
                "eprintCount": 1,
                "reviewCount": 1,
                "endorsementCount": 1,
                "roles": ["moderator"],
                "createdAt": ADA_SEEN,
            }
        ]
    }
    answer(response, search_users.Output)
    # the hidden repository (adagone.test) and the one whose only record is taken down (adataken.test) are not
    # accounts we hold anything visible of
    assert await found(api, "ad") == [ADA]
    assert await found(api, "DID:PLC:") == [ADA, BEN]  # handle matches first; Ben has no verified handle
    assert await found(api, "did:plc:", limit="1") == [ADA]
    assert await found(api, BEN) == [BEN]
    for literal in ("%", "_", "a%", "ad_", "@", "", "   ", "\\", "ada.test.", "did:plc:ben0%"):
        assert await found(api, literal) == [], literal


async def test_bad_params_and_a_caller_without_the_admin_role(api: Api) -> None:
    for params in ({}, {"query": "a", "limit": "0"}, {"query": "a", "limit": "101"}, {"query": "a", "did": ADA}):
        refusal(await api.get(METHOD, params), 400, "InvalidRequest")
    refusal(await api.get(METHOD, {"query": "a"}, headers=USER), 403, "AdminRequired")
