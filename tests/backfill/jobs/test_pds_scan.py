"""pds-scan resuming from what the previous version stored, against a scripted PDS: its checkpoint while it listed
the repositories, and a repository's work item while it listed its records (scans of a real PDS are in
tests/interop/backfill/test_pds_scan.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from starlette.requests import Request
from support.auth import FixedTokens
from support.engine import engine_config
from support.resume import ended, left_off
from support.scripted import Answer, Script, scripted_server

from chive_admin._generated import ids
from chive_admin.clock import now_stamp
from chive_admin.ingest import listing
from chive_admin.ingest.write import apply_records
from chive_admin.store import index, operations, work_items
from chive_admin.store.index import IndexedRecord
from testnet import records

CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
LISTED = "did:plc:listedbeforetherestart000"
UNLISTED = "did:plc:listedaftertherestart0000"
SINCE = "2026-01-01T00:00:00.000000Z"


def repo(did: str) -> dict[str, Any]:
    return {"did": did, "head": CID, "rev": "3kabcdefghi22", "active": True}


def comment(rkey: str) -> dict[str, Any]:
    value = records.review_comment(eprint_uri=records.at_uri(LISTED, records.SUBMISSION, "e1"))
    return {"uri": records.at_uri(LISTED, records.COMMENT, rkey), "cid": CID, "value": value}


def answer(request: Request) -> Answer:
    """The PDS: two pages of repositories, none holding a pub.chive collection but ``LISTED``, whose comments are
    listed two to a page: 3kc9 and 3kc5, then 3kc4."""
    nsid, cursor = request.url.path.removeprefix("/xrpc/"), request.query_params.get("cursor")
    if nsid == ids.COM_ATPROTO_SYNC_LIST_REPOS:
        page = {"repos": [repo(UNLISTED)]} if cursor else {"cursor": "after-page-1", "repos": [repo(LISTED)]}
        return Answer(200, json.dumps(page).encode())
    if nsid == ids.COM_ATPROTO_REPO_DESCRIBE_REPO:
        did = request.query_params["repo"]
        described = {"handle": "a.test", "did": did, "didDoc": {}, "collections": [], "handleIsCorrect": True}
        return Answer(200, json.dumps(described).encode())
    if nsid == ids.COM_ATPROTO_REPO_LIST_RECORDS:
        first = {"records": [comment("3kc9"), comment("3kc5")], "cursor": "3kc5"}
        page = {"records": [comment("3kc4")]} if cursor == "3kc5" else first
        return Answer(200, json.dumps(page).encode())
    return Answer(404, b'{"error":"NotFound"}')


@pytest.fixture
def pds() -> Iterator[tuple[str, Script]]:
    with scripted_server() as (url, script):
        script.default = answer
        yield url, script


@pytest.fixture
async def app(make_app: AppFactory) -> AsyncIterator[Starlette]:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async with running_client(app) as _:
        yield app


def asked(script: Script, nsid: str) -> list[str | None]:
    """The cursor of each request to ``nsid``."""
    queries = [parse_qs(seen.partition("?")[2]) for seen in script.seen if seen.startswith(f"/xrpc/{nsid}?")]
    return [query.get("cursor", [None])[0] for query in queries]


async def work(app: Starlette, op_id: str, state: str) -> dict[str, dict[str, Any]]:
    async with app.state.services.db.read() as conn:
        return dict(await work_items.with_state(conn, op_id, state))


async def test_a_scan_stored_while_listing_repositories_resumes_at_its_cursor(
    app: Starlette, pds: tuple[str, Script]
) -> None:
    url, script = pds
    # what the previous version stored after the first page of repositories
    op_id = await left_off(
        app,
        "pds-scan",
        {"pdsUrl": url},
        {"phase": "discovering", "host": 0, "cursor": "after-page-1", "listed": 1},
        progress=operations.Progress(stage="discovering_repos", total_repos=1),
        work={LISTED: {"pds": url}},
    )
    op = await ended(app, op_id)
    assert (op.status, op.attempts, op.checkpoint) == ("completed", 2, {"phase": "fetching"})
    assert (op.progress.total_repos, op.progress.processed_repos) == (2, 2)
    assert asked(script, ids.COM_ATPROTO_SYNC_LIST_REPOS) == ["after-page-1"]
    assert set(await work(app, op_id, "done")) == {LISTED, UNLISTED}


async def test_a_repository_stored_while_listing_its_records_resumes_at_its_position(
    app: Starlette, pds: tuple[str, Script]
) -> None:
    url, script = pds
    async with app.state.services.db.write() as conn:
        # the first page, committed by the previous version; and a record it did not list again: gone upstream
        await apply_records(conn, [indexed("3kc9"), indexed("3kc5")], "2026-01-02T00:00:00.000000Z")
        await apply_records(conn, [indexed("3kc1")], "2025-12-01T00:00:00.000000Z")
    # what the previous version stored after the first page of the repository's comments
    position = {"cursor": "3kc5", "downEdge": "3kc5", "full": 0, "up": None, "upCursor": None, "upEdge": None}
    repository = {"pds": url, "handle": "a.test", "collections": [records.COMMENT], "next": 0, "since": SINCE}
    op_id = await left_off(
        app,
        "pds-scan",
        {"pdsUrl": url},
        {"phase": "fetching"},
        progress=operations.Progress(stage="fetching_records", records_processed=2, total_repos=1),
        work={LISTED: {**repository, **position, "done": False}},
    )
    op = await ended(app, op_id)
    async with app.state.services.db.read() as conn:
        held = await index.record_cids(conn, LISTED)
    assert (op.status, op.progress.records_processed, op.progress.processed_repos) == ("completed", 3, 1)
    assert asked(script, ids.COM_ATPROTO_REPO_DESCRIBE_REPO) == []
    assert asked(script, ids.COM_ATPROTO_REPO_LIST_RECORDS) == ["3kc5"]
    assert sorted(uri.rpartition("/")[2] for uri in held) == ["3kc4", "3kc5", "3kc9"]
    # stored again with the keys it always had: the repository's, then its (next) collection's position
    assert await work(app, op_id, "done") == {LISTED: {**repository, "next": 1, **listing.START.to_json()}}


def indexed(rkey: str) -> IndexedRecord:
    record = comment(rkey)
    return IndexedRecord.from_parts(LISTED, records.COMMENT, rkey, record["cid"], record["value"])


async def test_a_repository_whose_head_moves_while_it_is_listed_is_synced_again(
    app: Starlette, pds: tuple[str, Script]
) -> None:
    url, script = pds
    listing_started, go_on = threading.Event(), threading.Event()

    def slow(request: Request) -> Answer:
        if request.url.path.endswith(ids.COM_ATPROTO_REPO_LIST_RECORDS):
            listing_started.set()
            go_on.wait(30)
        return answer(request)

    script.default = slow
    db = app.state.services.db
    async with db.write() as conn:
        await index.upsert_repo(conn, LISTED, now_stamp(), pds_url=url, rev="3kaaaaaaaaa22")
    repository = {"pds": url, "handle": "a.test", "collections": [records.COMMENT], "next": 0, "since": SINCE}
    op_id = await left_off(
        app,
        "pds-scan",
        {"pdsUrl": url},
        {"phase": "fetching"},
        progress=operations.Progress(stage="fetching_records", total_repos=1),
        work={LISTED: {**repository, **listing.START.to_json(), "done": False}},
    )
    await asyncio.to_thread(listing_started.wait, 30)
    # a live commit lands while the listing is under way: a page listed before it may be older than it
    async with db.write() as conn:
        await index.set_repo_head(conn, LISTED, "3kbbbbbbbbb22", "bafyreidata", now_stamp())
    go_on.set()
    assert (await ended(app, op_id)).status == "completed"
    async with db.read() as conn:
        queued = await operations.list_active(conn, 10) + await operations.history(conn, 10)
    assert any(op.type == "did-sync" and op.params == {"did": LISTED} for op in queued)
