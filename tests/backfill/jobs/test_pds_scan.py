"""pds-scan resuming from what the previous version stored, against a scripted PDS: its checkpoint while it listed
the repositories, and a repository's work item while it listed its records (scans of a real PDS are in
tests/interop/backfill/test_pds_scan.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import AppFactory, running_client
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from support.api import call
from support.auth import FixedTokens
from support.engine import engine_config
from support.pds import ScriptedPds
from support.resume import ended, left_off
from support.scripted import Answer, Script, scripted_server
from support.served import FAST, Served
from support.server import free_port

from chive_admin._generated import ids
from chive_admin.backfill.jobs.pds_scan import PdsScanParams
from chive_admin.ingest import listing
from chive_admin.ingest.listing import PAGE_SIZE
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
    async for _ in running_client(app):
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


EPRINT = "at://did:plc:authorauthorauthorauthora/pub.chive.eprint.submission/3kaaaaaaaaaaa"


BIG = "did:plc:bigbigbigbigbigbigbigbigbi"


SMALL = "did:plc:smallsmallsmallsmallsmall"


GONE = "did:plc:gonegonegonegonegonegonego"


MANY = 3 * PAGE_SIZE + 7


def rkey(n: int) -> str:
    return f"3k{n:011d}"


def populate(pds: ScriptedPds) -> set[str]:
    """Three repositories: one large, one small with a record its lexicon refuses, one deactivated; the URIs of
    every valid record of the active ones."""
    valid = {pds.put(BIG, records.COMMENT, rkey(n), comment(n)) for n in range(MANY)}
    valid.add(pds.put(SMALL, records.COMMENT, rkey(1), comment(1)))
    pds.put(SMALL, records.COMMENT, rkey(2), {"$type": records.COMMENT, "body": 42})
    pds.put(SMALL, "app.bsky.feed.post", rkey(3), {"$type": "app.bsky.feed.post", "text": "not Chive's"})
    pds.put(GONE, records.COMMENT, rkey(4), comment(4))
    pds.repo(GONE).status = "deactivated"
    return valid


def test_the_pds_url_is_a_bare_origin_normalised() -> None:
    assert PdsScanParams.model_validate({"pdsUrl": "https://PDS.Example/"}).normalised() == {
        "pdsUrl": "https://pds.example"
    }
    assert PdsScanParams.model_validate({}).normalised() == {}  # every known PDS
    for bad in ("ftp://pds.example", "https://pds.example/xrpc", "https://u:p@pds.example"):
        with pytest.raises(ValidationError):
            PdsScanParams.model_validate({"pdsUrl": bad})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:2583", "http://localhost:2583", "http://169.254.169.254", "http://[::1]"]
)
async def test_a_private_pds_url_is_refused_at_trigger_time_without_the_flag(make_app: AppFactory, url: str) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, allow_private_network=False)
    async for client in running_client(app):
        response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": url})
        async with app.state.services.db.read() as conn:
            count = (await conn.execute_fetchall("SELECT count(*) FROM operations"))[0][0]
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert "non-public" in response.json()["message"]
    assert count == 0


async def test_a_scan_indexes_every_valid_record_of_every_active_repository(pds: ScriptedPds, served: Served) -> None:
    valid = populate(pds)
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url})
    assert (op["status"], op["recordsFailed"]) == ("partial", 1)  # the refused record
    assert (op["totalRepos"], op["processedRepos"], op["stage"]) == (2, 2, "fetching_records")
    assert op["recordsProcessed"] == len(valid) + 1
    assert {uri for (uri,) in await served.rows("SELECT uri FROM records WHERE hidden = 0")} == valid
    [(error_type, context)] = await served.rows("SELECT error_type, context FROM dead_letters")
    assert error_type == "invalid_record"
    assert f"at://{SMALL}/{records.COMMENT}/{rkey(2)}" in context
    repos = dict(await served.rows("SELECT did, status FROM repos"))
    assert repos == {BIG: "active", SMALL: "active", GONE: "deactivated"}  # listed inactive: marked, not fetched
    assert [
        (url, status, count) for url, status, count in await served.rows("SELECT url, status, repo_count FROM pdses")
    ] == [(pds.url, "healthy", 3)]
    async with served.db.read() as conn:
        assert await work_items.counts(conn, op["id"]) == {"pending": 0, "done": 2, "failed": 0, "skipped": 0}


async def test_the_next_scan_mirrors_deletions_and_changes_nothing_else(pds: ScriptedPds, served: Served) -> None:
    populate(pds)
    await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url})
    before = dict(await served.rows("SELECT uri, writes FROM records"))
    pds.delete(BIG, records.COMMENT, rkey(5))
    again = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url})
    after = dict(await served.rows("SELECT uri, writes FROM records"))
    gone = f"at://{BIG}/{records.COMMENT}/{rkey(5)}"
    assert again["status"] == "partial"  # the same refused record, refreshed in its queue entry
    assert set(before) - set(after) == {gone}
    assert after == {uri: writes for uri, writes in before.items() if uri != gone}  # nothing rewritten
    assert await served.rows("SELECT count(*) FROM dead_letters") == [(1,)]


async def test_a_repository_that_cannot_be_fetched_is_dead_lettered_and_the_scan_goes_on(
    pds: ScriptedPds, served: Served
) -> None:
    populate(pds)

    def describe(request: Request) -> Answer | None:
        if request.query_params["repo"] == SMALL:
            return Answer(400, b'{"error":"InvalidRequest","message":"not today"}')
        return None

    pds.overrides[ids.COM_ATPROTO_REPO_DESCRIBE_REPO] = describe
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url})
    assert (op["status"], op["processedRepos"]) == ("partial", 2)
    [(error_type, context)] = await served.rows("SELECT error_type, context FROM dead_letters")
    assert (error_type, SMALL in context) == ("repo_fetch_failed", True)
    assert await served.rows("SELECT count(*) FROM records WHERE did = ?", BIG) == [(MANY,)]
    async with served.db.read() as conn:
        assert await work_items.counts(conn, op["id"]) == {"pending": 0, "done": 1, "failed": 1, "skipped": 0}


async def test_without_a_url_every_known_pds_is_scanned_and_one_that_cannot_be_listed_is_dead_lettered(
    pds: ScriptedPds, served: Served
) -> None:
    valid = populate(pds)
    await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url})  # registers the PDS
    dead = f"http://127.0.0.1:{free_port()}"
    failed = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": dead})  # registers a dead one
    assert (failed["status"], failed["errorCode"]) == ("failed", "pds_unreachable")  # alone: it fails the op
    everywhere = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN)
    assert everywhere["status"] == "partial"
    assert everywhere["params"] == {}
    kinds = await served.rows("SELECT error_type FROM dead_letters ORDER BY id")
    assert kinds == [("invalid_record",), ("pds_unreachable",)]  # among others, a dead host is one failed item
    assert {uri for (uri,) in await served.rows("SELECT uri FROM records WHERE hidden = 0")} == valid
    assert dict(await served.rows("SELECT url, consecutive_errors FROM pdses")) == {pds.url: 0, dead: 2}
