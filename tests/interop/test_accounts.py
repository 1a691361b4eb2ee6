"""Accounts, reviews and endorsements against the real network: records written on the testnet PDS, indexed by
did-syncs, then searchUsers, getUserDetail, listReviews and listEndorsements checked field by field; more than a
hundred reviews paged with the returned cursor; a handle changed on the PDS (updateHandle) is the one stored after
the next did-sync; a deactivated account's records leave every count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.api import call

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import (
    get_user_detail,
    list_endorsements,
    list_reviews,
    search_users,
)
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from interop.ops import run_op, served_app
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient, unique_handle

pytestmark = pytest.mark.interop

REVIEWS = 105
START = datetime(2026, 3, 1, tzinfo=UTC)


def at(minutes: int) -> str:
    return records.now_iso(START + timedelta(minutes=minutes))


@pytest.fixture
async def client(db_target: DbTarget, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    # the accounts are on the first PDS, which resolves their `.test` handles (nothing else does)
    settings = Settings(
        db=db_target, plc_url=testnet.plc_url, handle_resolver=testnet.pds_url, allow_private_network=True
    )
    async with served_app(settings) as c:
        yield c


async def query(client: httpx.AsyncClient, nsid: str, **params: str) -> dict[str, Any]:
    response = await call(client, nsid, **params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def synced(client: httpx.AsyncClient, account: Account) -> None:
    op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": account.did})
    assert op["status"] == "completed", op


async def test_accounts_reviews_and_endorsements_from_the_testnet(pds: PdsClient, client: httpx.AsyncClient) -> None:
    ada = pds.create_account(prefix="ada")
    ben = pds.create_account(prefix="ben")
    pdf = pds.upload_blob(ada, records.minimal_pdf(), "application/pdf")
    eprint = pds.create_record(ada, records.SUBMISSION, records.eprint_submission(submitted_by=ada.did, document=pdf))
    pds.put_record(ada, records.PROFILE, "self", records.actor_profile(display_name="Ada Interop"))
    pds.put_record(ben, records.PROFILE, "self", records.actor_profile(display_name="Ben Interop"))
    ada_reviews = pds.bulk_create(
        ada,
        records.COMMENT,
        REVIEWS,
        factory=lambda i: records.review_comment(eprint_uri=eprint.uri, created_at=at(i)),
    )
    ben_review = pds.create_record(
        ben, records.COMMENT, records.review_comment(eprint_uri=eprint.uri, created_at=at(-1))
    )
    endorsements = [
        pds.create_record(
            ada, records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint.uri, created_at=at(1))
        ),
        pds.create_record(
            ben, records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint.uri, created_at=at(2))
        ),
    ]
    for account in (ada, ben):
        await synced(client, account)

    # searchUsers: a case-insensitive prefix of the verified handle, a leading @ ignored
    found = await query(client, ids.PUB_CHIVE_ADMIN_SEARCH_USERS, query="@" + ada.handle[:6].upper())
    search_users.Output.model_validate(found, strict=True, by_alias=True, by_name=False)
    assert [u["did"] for u in found["users"]] == [ada.did]
    first_seen = found["users"][0]["createdAt"]
    assert found["users"][0] == {
        "did": ada.did,
        "handle": ada.handle,
        "displayName": "Ada Interop",
        "eprintCount": 1,
        "reviewCount": REVIEWS,
        "endorsementCount": 1,
        "roles": [],
        "createdAt": first_seen,
    }
    ben_detail = await query(client, ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL, did=ben.did)
    get_user_detail.Output.model_validate(ben_detail, strict=True, by_alias=True, by_name=False)
    assert ben_detail == {
        "did": ben.did,
        "handle": ben.handle,
        "displayName": "Ben Interop",
        "eprintCount": 0,
        "reviewCount": 1,
        "endorsementCount": 1,
        "roles": [],
        "createdAt": ben_detail["createdAt"],
    }
    assert [u["did"] for u in (await query(client, ids.PUB_CHIVE_ADMIN_SEARCH_USERS, query=ben.did))["users"]] == [
        ben.did
    ]

    # listReviews: every review once, newest first by the record's createdAt, paged with the returned cursor
    expected = [
        {"uri": ref.uri, "eprintUri": eprint.uri, "authorDid": ada.did, "authorHandle": ada.handle, "createdAt": at(i)}
        for i, ref in enumerate(ada_reviews)
    ]
    expected.insert(
        0,
        {
            "uri": ben_review.uri,
            "eprintUri": eprint.uri,
            "authorDid": ben.did,
            "authorHandle": ben.handle,
            "createdAt": at(-1),
        },
    )
    expected.reverse()
    pages: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "40"}
    while True:
        page = await query(client, ids.PUB_CHIVE_ADMIN_LIST_REVIEWS, **params)
        list_reviews.Output.model_validate(page, strict=True, by_alias=True, by_name=False)
        pages.append(page)
        if "cursor" not in page:
            break
        params = {"limit": "40", "cursor": page["cursor"]}
    last_of_page = [expected[39], expected[79]]
    assert [p.get("cursor") for p in pages] == [*(f"{e['createdAt']}::{e['uri']}" for e in last_of_page), None]
    # Chive's decimal offsets name the same pages
    by_offset = await query(client, ids.PUB_CHIVE_ADMIN_LIST_REVIEWS, limit="40", cursor="40")
    assert by_offset["items"] == pages[1]["items"]
    assert {p["total"] for p in pages} == {REVIEWS + 1}
    assert [item for p in pages for item in p["items"]] == expected

    endorsed = await query(client, ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS)
    list_endorsements.Output.model_validate(endorsed, strict=True, by_alias=True, by_name=False)
    assert endorsed == {
        "items": [
            {
                "uri": endorsements[1].uri,
                "eprintUri": eprint.uri,
                "authorDid": ben.did,
                "authorHandle": ben.handle,
                "createdAt": at(2),
            },
            {
                "uri": endorsements[0].uri,
                "eprintUri": eprint.uri,
                "authorDid": ada.did,
                "authorHandle": ada.handle,
                "createdAt": at(1),
            },
        ],
        "total": 2,
    }

    # a handle changed on the PDS is the one stored after the next did-sync (seconds after the last one: the
    # sync sees the DID document as it is now); when the account first appeared does not move
    renamed = unique_handle(pds.handle_domain, "adanew")
    pds.update_handle(ada, renamed)
    await synced(client, ada)
    detail = await query(client, ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL, did=ada.did)
    assert (detail["handle"], detail["createdAt"]) == (renamed, first_seen)
    assert (await query(client, ids.PUB_CHIVE_ADMIN_SEARCH_USERS, query=ada.handle))["users"] == []
    assert [u["did"] for u in (await query(client, ids.PUB_CHIVE_ADMIN_SEARCH_USERS, query=renamed))["users"]] == [
        ada.did
    ]
    newest = await query(client, ids.PUB_CHIVE_ADMIN_LIST_REVIEWS, limit="1")
    assert newest["items"][0]["authorHandle"] == renamed

    # a deactivated account: after its next sync its records leave every count and list
    pds.deactivate_account(ben)
    await synced(client, ben)
    gone = await call(client, ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL, did=ben.did)
    assert (gone.status_code, gone.json()["error"]) == (400, "NotFound")
    assert (await query(client, ids.PUB_CHIVE_ADMIN_SEARCH_USERS, query=ben.did))["users"] == []
    assert (await query(client, ids.PUB_CHIVE_ADMIN_LIST_REVIEWS, limit="1"))["total"] == REVIEWS
    remaining = await query(client, ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS)
    assert ([i["uri"] for i in remaining["items"]], remaining["total"]) == ([endorsements[0].uri], 1)
