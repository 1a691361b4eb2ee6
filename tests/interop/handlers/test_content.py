"""getOverview, listEprints and listImports against the real testnet: accounts on two PDSes with submissions, a
profile, tags, an endorsement, a review and collection nodes (one in the governance repository), indexed by
did-syncs; each answer checked field by field, pagination over more than 100 eprints by offset, and an account
deactivated on its PDS whose records leave every count after a re-sync."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from interop.ops import run_op, served_app
from support.api import call

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store.target import DbTarget
from chive_admin.upstream.urls import normalise_service_url
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import Account, PdsClient

pytestmark = pytest.mark.interop

#: more than one page of listEprints
MANY = 105


async def get(client: httpx.AsyncClient, nsid: str, **params: Any) -> dict[str, Any]:
    response = await call(client, nsid, **{k: str(v) for k, v in params.items()})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def sync(client: httpx.AsyncClient, did: str) -> None:
    op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": did})
    assert op["status"] == "completed", op


def stamp(day: int, minute: int = 0) -> str:
    return f"2026-0{1 + day // 28}-{1 + day % 28:02d}T00:{minute:02d}:00.000Z"


def submission(pds: PdsClient, account: Account, document: dict[str, Any], created: str, **extra: Any) -> Any:
    record = records.eprint_submission(submitted_by=account.did, document=document, created_at=created, **extra)
    return pds.create_record(account, records.SUBMISSION, record), record


async def test_content_counts_lists_and_a_deactivation(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient, pds2: PdsClient
) -> None:
    gov = pds.create_account(prefix="cgov")
    alice = pds.create_account(prefix="calice")
    bob = pds2.create_account(prefix="cbob")
    carol = pds.create_account(prefix="ccarol")
    pdf = records.minimal_pdf()

    # alice: two eprints (the newest of all), a profile, a tag, an endorsement, a collection and a field node
    doc_a = pds.upload_blob(alice, pdf, "application/pdf")
    newest, newest_value = submission(
        pds, alice, doc_a, stamp(200), title="Newest", field="physics", publicationStatusSlug="published"
    )
    second, _ = submission(pds, alice, doc_a, stamp(199), title="Second", field=None)
    pds.create_record(alice, records.PROFILE, records.actor_profile(display_name="Alice"), rkey="self")
    pds.create_record(alice, records.USER_TAG, records.user_tag(eprint_uri=newest.uri))
    pds.create_record(alice, records.ENDORSEMENT, records.review_endorsement(eprint_uri=newest.uri))
    mine = records.graph_node(label="Alice's list", kind="object", subkind="collection", created_by=alice.did)
    pds.create_record(alice, records.GRAPH_NODE, mine, rkey=mine["id"])
    field = records.graph_node(label="Alice's field", created_by=alice.did)
    pds.create_record(alice, records.GRAPH_NODE, field, rkey=field["id"])
    # bob, on the second PDS: an eprint without a publication status, a profile, a tag and a review
    doc_b = pds2.upload_blob(bob, pdf, "application/pdf")
    bare = records.eprint_submission(submitted_by=bob.did, document=doc_b, created_at=stamp(198), title="Bare")
    del bare["publicationStatusSlug"]
    bobs = pds2.create_record(bob, records.SUBMISSION, bare)
    pds2.create_record(bob, records.PROFILE, records.actor_profile(display_name="Bob", bio=None), rkey="self")
    pds2.create_record(bob, records.USER_TAG, records.user_tag(eprint_uri=newest.uri, tag="physics"))
    pds2.create_record(bob, records.COMMENT, records.review_comment(eprint_uri=newest.uri))
    # carol: more than a page of eprints, no profile
    doc_c = pds.upload_blob(carol, pdf, "application/pdf")
    many = pds.bulk_create(
        carol,
        records.SUBMISSION,
        MANY,
        factory=lambda i: records.eprint_submission(
            submitted_by=carol.did, document=doc_c, created_at=stamp(i // 50, i % 50), title=f"Carol {i}"
        ),
    )
    # the governance repository: its collection is the community's, not counted
    shared = records.graph_node(label="Shared", kind="object", subkind="collection", created_by=gov.did)
    pds.create_record(gov, records.GRAPH_NODE, shared, rkey=shared["id"])

    # handles are stored only once verified: the first PDS is the trusted resolver of the `.test` handles (they resolve
    # nowhere else), so alice's verifies and bob's, on the second PDS, cannot
    settings = Settings(
        db=db_target,
        plc_url=testnet.plc_url,
        handle_resolver=testnet.pds_url,
        governance_did=gov.did,
        allow_private_network=True,
    )
    async with served_app(settings) as client:
        for account in (gov, alice, bob, carol):
            await sync(client, account.did)
        overview = {"eprints": 3 + MANY, "authors": 2, "reviews": 1, "endorsements": 1, "collections": 1, "tags": 2}
        assert await get(client, ids.PUB_CHIVE_ADMIN_GET_OVERVIEW) == overview

        first = await get(client, ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, limit=3)
        assert first["total"] == 3 + MANY
        indexed_at = [item.pop("indexedAt") for item in first["items"]]
        assert all(at.startswith("20") and at.endswith("Z") for at in indexed_at)
        assert first["items"] == [
            {
                "uri": newest.uri,
                "cid": newest.cid,
                "title": "Newest",
                "authorDid": alice.did,
                "authorHandle": alice.handle,
                "status": "published",
                "field": newest_value["fieldUris"][0],
            },
            {
                "uri": second.uri,
                "cid": second.cid,
                "title": "Second",
                "authorDid": alice.did,
                "authorHandle": alice.handle,
                "status": "preprint",
            },
            {
                "uri": bobs.uri,
                "cid": bobs.cid,
                "title": "Bare",
                "authorDid": bob.did,  # no authorHandle: bob's handle could not be verified
                "status": "eprint",
                "field": bare["fieldUris"][0],
            },
        ]
        # every eprint once over two pages by offset, newest first (carol's by createdAt, the latest first)
        pages = [await get(client, ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, limit=100, offset=o) for o in (0, 100)]
        seen = [item["uri"] for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [100, 3 + MANY - 100]
        assert seen[3:] == [ref.uri for ref in reversed(many)]
        past = await get(client, ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, offset=500)
        assert past == {"items": [], "total": 3 + MANY}

        home = normalise_service_url(testnet.pds_url)
        assert await get(client, ids.PUB_CHIVE_ADMIN_LIST_IMPORTS) == {"totalEprints": 3 + MANY, "limit": 50}
        shouted = testnet.pds_url.upper().replace("HTTP://", "http://") + "/"
        assert await get(client, ids.PUB_CHIVE_ADMIN_LIST_IMPORTS, source=shouted, limit=7) == {
            "totalEprints": 2 + MANY,
            "source": home,
            "limit": 7,
        }
        other = await get(client, ids.PUB_CHIVE_ADMIN_LIST_IMPORTS, source=testnet.pds2_url)
        assert other["totalEprints"] == 1

        # deactivated upstream: after a re-sync, none of alice's records counts anywhere
        pds.deactivate_account(alice)
        try:
            await sync(client, alice.did)
        finally:
            pds.activate_account(alice)
        assert await get(client, ids.PUB_CHIVE_ADMIN_GET_OVERVIEW) == {
            "eprints": 1 + MANY,
            "authors": 1,
            "reviews": 1,
            "endorsements": 0,
            "collections": 0,
            "tags": 1,
        }
        listed = await get(client, ids.PUB_CHIVE_ADMIN_LIST_EPRINTS, limit=2)
        assert listed["total"] == 1 + MANY
        assert [item["uri"] for item in listed["items"]] == [bobs.uri, many[-1].uri]
        imports = await get(client, ids.PUB_CHIVE_ADMIN_LIST_IMPORTS, source=testnet.pds_url)
        assert imports["totalEprints"] == MANY
        # and back once the account is active again
        await sync(client, alice.did)
        assert (await get(client, ids.PUB_CHIVE_ADMIN_GET_OVERVIEW)) == overview
