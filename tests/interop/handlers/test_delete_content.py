"""deleteContent against the real testnet: a review taken down stays hidden through a did-sync of a new version
upstream, a freshness scan of everything, and a delete-and-recreate of the same record key; a repeat succeeds and
keeps one takedown; a restore brings the review back into every count and list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from interop.ops import run_op, served_app
from support.api import call

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store import takedowns
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop


async def get(client: httpx.AsyncClient, nsid: str) -> dict[str, Any]:
    response = await call(client, nsid)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def shown(client: httpx.AsyncClient) -> tuple[set[str], int, int]:
    """The reviews listReviews shows, its total, and getOverview's count of reviews."""
    page = await get(client, ids.PUB_CHIVE_ADMIN_LIST_REVIEWS)
    overview = await get(client, ids.PUB_CHIVE_ADMIN_GET_OVERVIEW)
    return {item["uri"] for item in page.get("items", [])}, page["total"], overview["reviews"]


async def completed(client: httpx.AsyncClient, nsid: str, body: dict[str, Any]) -> None:
    op = await run_op(client, nsid, body)
    assert op["status"] == "completed", op


async def test_a_takedown_stays_through_syncs_scans_and_a_recreate(
    db_target: DbTarget, testnet: Testnet, pds: PdsClient
) -> None:
    author = pds.create_account(prefix="tdown")
    eprint_uri = records.at_uri(author.did, records.SUBMISSION, "e1")
    review = pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=eprint_uri, text="Spam"))
    kept = pds.create_record(author, records.COMMENT, records.review_comment(eprint_uri=eprint_uri, text="Fine"))
    settings = Settings(
        db=db_target, plc_url=testnet.plc_url, handle_resolver=testnet.pds_url, allow_private_network=True
    )
    async with served_app(settings) as client:
        did_sync = (ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did})
        await completed(client, *did_sync)
        assert await shown(client) == ({review.uri, kept.uri}, 2, 2)

        body = {"uri": review.uri, "collection": records.COMMENT, "reason": "spam"}
        for _ in range(2):  # a repeat answers success too
            response = await call(client, ids.PUB_CHIVE_ADMIN_DELETE_CONTENT, body)
            assert (response.status_code, response.json()) == (200, {"success": True})
        assert await shown(client) == ({kept.uri}, 1, 1)

        # a new version upstream, indexed by a did-sync
        edited = records.review_comment(eprint_uri=eprint_uri, text="Spam, edited")
        assert pds.put_record(author, records.COMMENT, review.rkey, edited).uri == review.uri
        await completed(client, *did_sync)
        assert await shown(client) == ({kept.uri}, 1, 1)
        # a freshness scan of everything re-verifies it
        await completed(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "freshnessScan"})
        assert await shown(client) == ({kept.uri}, 1, 1)
        # deleted upstream, then recreated under the same key: the same URI, still taken down
        pds.delete_record(author, records.COMMENT, review.rkey)
        await completed(client, *did_sync)
        again = records.review_comment(eprint_uri=eprint_uri, text="Spam again")
        assert pds.create_record(author, records.COMMENT, again, rkey=review.rkey).uri == review.uri
        await completed(client, *did_sync)
        assert await shown(client) == ({kept.uri}, 1, 1)

        services = client.app.state.services  # type: ignore[attr-defined]
        async with services.db.read() as conn:
            assert [t.uri for t in await takedowns.every(conn)] == [review.uri]  # one row for the two calls
        async with services.db.write() as conn:  # what `chive-admin content restore` does
            assert await takedowns.restore(conn, review.uri) is not None
        assert await shown(client) == ({review.uri, kept.uri}, 2, 2)
