"""pds-scan resuming from what the previous version stored, against a scripted PDS: its checkpoint while it listed
the repositories, and a repository's work item while it listed its records (scans of a real PDS are in
tests/interop/backfill/test_pds_scan.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from starlette.requests import Request
from support.api import Operation, call, started, wait_ended
from support.auth import FixedTokens
from support.engine import engine_config
from support.pds import ScriptedPds, cid_of, did_document, scripted_pds
from support.relay import LoopbackRelay, loopback_relay
from support.resume import ended, left_off
from support.scripted import Answer, Script, scripted_server
from support.served import FAST, Served

from chive_admin._generated import ids
from chive_admin.backfill.jobs import pds_scan
from chive_admin.clock import now_stamp
from chive_admin.ingest import listing
from chive_admin.ingest.write import apply_records
from chive_admin.repo.validate import INDEXED
from chive_admin.store import dead_letters, index, operations, work_items
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
    if nsid.startswith("/did:"):  # the PLC directory: each DID lives on this PDS
        document = did_document(nsid[1:], "a.test", str(request.base_url).rstrip("/"))
        return Answer(200, json.dumps(document).encode())
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
async def app(make_app: AppFactory, pds: tuple[str, Script]) -> AsyncIterator[Starlette]:
    config = engine_config(workers=1, poll_seconds=0.05)
    app = make_app(authenticator=FixedTokens(), engine_config=config, plc_url=pds[0])
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


async def listing_from_the_start(app: Starlette, url: str) -> str:
    """A scan stored with only ``LISTED`` left to list, from its first record; its id."""
    repository = {"pds": url, "handle": "a.test", "collections": [records.COMMENT], "next": 0, "since": SINCE}
    return await left_off(
        app,
        "pds-scan",
        {"pdsUrl": url},
        {"phase": "fetching"},
        progress=operations.Progress(stage="fetching_records", total_repos=1),
        work={LISTED: {**repository, **listing.START.to_json(), "done": False}},
    )


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
    op_id = await listing_from_the_start(app, url)
    await asyncio.to_thread(listing_started.wait, 30)
    # a live commit lands while the listing is under way: a page listed before it may be older than it
    async with db.write() as conn:
        await index.set_repo_head(conn, LISTED, "3kbbbbbbbbb22", "bafyreidata", now_stamp())
    go_on.set()
    assert (await ended(app, op_id)).status == "completed"
    async with db.read() as conn:
        queued = await operations.list_active(conn, 10) + await operations.history(conn, 10)
    assert any(op.type == "did-sync" and op.params == {"did": LISTED} for op in queued)


# --- the network backfill: discovery through a relay (tests/support/relay.py), then resolution, then fetching ---

ALICE = "did:plc:alicehasreviews0000000000"
BOB = "did:plc:bobhasanendorsement0000000"
CAROL = "did:plc:carolhasnothingofours00000"
GONE = "did:plc:deletedaccountstilllisted"


@pytest.fixture
def hosting() -> Iterator[ScriptedPds]:
    """The PDS the relay's DIDs live on, and their PLC directory."""
    with scripted_pds() as running:
        yield running


@pytest.fixture
def network(hosting: ScriptedPds) -> Iterator[LoopbackRelay]:
    """ALICE (two comments) and BOB (a comment, an endorsement) on the scripted PDS; CAROL there with nothing of
    ours; the relay lists ALICE and BOB, BOB under both collections, and GONE, whose account no longer exists."""
    eprint = records.at_uri(ALICE, records.SUBMISSION, "e1")
    for rkey in ("3kc1", "3kc2"):
        hosting.put(ALICE, records.COMMENT, rkey, records.review_comment(eprint_uri=eprint))
    hosting.put(BOB, records.COMMENT, "3kc3", records.review_comment(eprint_uri=eprint))
    hosting.put(BOB, records.ENDORSEMENT, "3ke1", records.review_endorsement(eprint_uri=eprint))
    hosting.repo(CAROL)
    index = {records.COMMENT: [ALICE, BOB], records.ENDORSEMENT: [BOB]}
    with loopback_relay(index) as relay:
        relay.stale = {records.COMMENT: [GONE]}
        relay.max_page = 1  # a page per DID: every page boundary is met
        yield relay


@pytest.fixture
def relay_app(make_app: AppFactory, hosting: ScriptedPds, network: LoopbackRelay) -> AppFactory:
    def factory(**overrides: Any) -> Starlette:
        settings = {"plc_url": hosting.url, "relay_url": network.url, "upstream_attempts": 2} | overrides
        return make_app(authenticator=FixedTokens(), engine_config=FAST, **settings)

    return factory


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[Served]:
    async with running_client(app) as client:
        yield Served(app, client)


async def network_backfill(served: Served, body: dict[str, Any] | None = None) -> Operation:
    return await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan", **(body or {})})


async def test_a_network_backfill_indexes_every_repository_the_relay_names_and_no_other(
    relay_app: AppFactory, hosting: ScriptedPds, network: LoopbackRelay
) -> None:
    async with serving(relay_app()) as served:
        op = await network_backfill(served)
        held = await served.rows("SELECT DISTINCT did FROM records")
        pdses = await served.rows("SELECT url FROM pdses")
    assert op["status"] == "completed", op
    assert op["stage"] == "fetching_records"
    # three distinct DIDs discovered (BOB twice), GONE skipped as stale, two fetched
    assert (op["totalRepos"], op["processedRepos"]) == (3, 3)
    assert op["counts"] == {"resolved": 2, "stale_not_found": 1}
    assert op["recordsProcessed"] == 4
    assert {row[0] for row in held} == {ALICE, BOB}
    assert [row[0] for row in pdses] == [hosting.url]
    # every collection we index was asked for, each to its end, pages followed one by one
    asked_comments = [cursor for collection, cursor in network.requests if collection == records.COMMENT]
    assert asked_comments == [None, "1", "2", "3"]
    assert {collection for collection, _ in network.requests} == set(INDEXED)
    # CAROL is on the PDS but the relay never named her: not visited
    assert not any(CAROL in seen for seen in hosting.seen)


async def test_a_network_backfill_takes_one_collection_and_at_most_limit_repositories(
    relay_app: AppFactory, network: LoopbackRelay
) -> None:
    async with serving(relay_app()) as served:
        op = await network_backfill(served, {"collection": records.COMMENT, "limit": 1})
        held = await served.rows("SELECT DISTINCT did FROM records")
    assert op["status"] == "completed", op
    assert op["params"] == {"collection": records.COMMENT, "limit": 1}
    assert (op["totalRepos"], op["processedRepos"]) == (1, 1)
    assert network.requests == [(records.COMMENT, None)]
    assert held == [(ALICE,)]


async def test_a_last_full_page_without_a_cursor_ends_the_collection(
    relay_app: AppFactory, network: LoopbackRelay
) -> None:
    network.cursor_on_full_pages = False
    network.max_page = 2000
    async with serving(relay_app()) as served:
        op = await network_backfill(served, {"collection": records.COMMENT})
    assert op["status"] == "completed", op
    assert network.requests == [(records.COMMENT, None)]
    assert op["totalRepos"] == 3


@pytest.mark.parametrize(
    ("misbehave", "code"),
    [
        (lambda relay: setattr(relay, "loop_cursor", "again"), "relay_cursor_loop"),
        (lambda relay: relay.throttle.extend([3600.0] * 3), "relay_rate_limited"),
        (lambda relay: relay.garbage.extend([b'{"repos": [{"did": "not a did"}]}'] * 3), "relay_bad_answer"),
        (lambda relay: relay.garbage.extend([b"<html>"] * 3), "relay_bad_answer"),
    ],
    ids=["cursor-loop", "far-rate-limit", "not-a-did", "not-json"],
)
async def test_a_relay_that_misbehaves_ends_discovery_with_a_clear_error_code(
    relay_app: AppFactory, network: LoopbackRelay, misbehave: Any, code: str
) -> None:
    misbehave(network)
    async with serving(relay_app()) as served:
        op = await network_backfill(served, {"collection": records.COMMENT})
    assert op["status"] == "failed", op
    assert op["errorCode"] == code
    assert op["errorContext"]["relay"] == network.url
    assert op["errorContext"]["collection"] == records.COMMENT
    assert op["stage"] == "discovering_repos"
    assert len(network.requests) <= 3  # given up at once, not retried until a deadline


async def test_a_near_rate_limit_of_the_relay_is_waited_out(relay_app: AppFactory, network: LoopbackRelay) -> None:
    network.throttle.append(0.0)
    async with serving(relay_app()) as served:
        op = await network_backfill(served, {"collection": records.ENDORSEMENT})
    assert op["status"] == "completed", op
    assert network.requests == [(records.ENDORSEMENT, None)] * 2 + [(records.ENDORSEMENT, "1")]


async def test_discovery_resumes_at_the_relay_cursor_it_committed(
    relay_app: AppFactory, network: LoopbackRelay
) -> None:
    app = relay_app()
    async with running_client(app):
        checkpoint = {"phase": "relay", "collection": 0, "cursor": "1", "found": 1}
        progress = operations.Progress(stage="discovering_repos", total_repos=1)
        op_id = await left_off(
            app, "pds-scan", {"collection": records.COMMENT}, checkpoint, progress=progress, work={ALICE: {}}
        )
        op = await ended(app, op_id)
    assert op.status == "completed"
    assert network.requests == [(records.COMMENT, "1"), (records.COMMENT, "2"), (records.COMMENT, "3")]
    assert (op.progress.total_repos, op.progress.processed_repos) == (3, 3)


async def test_resolution_resumes_after_the_last_did_it_committed(
    relay_app: AppFactory, hosting: ScriptedPds, network: LoopbackRelay
) -> None:
    app = relay_app()
    async with running_client(app):
        # ALICE resolved (and BOB's page not yet) when the previous run stopped
        work = {ALICE: {"pds": hosting.url}, BOB: {}, GONE: {}}
        progress = operations.Progress(stage="resolving_pds", total_repos=3)
        op_id = await left_off(
            app, "pds-scan", {}, {"phase": "resolving", "after": ALICE}, progress=progress, work=work
        )
        op = await ended(app, op_id)
    assert op.status == "completed"
    assert network.requests == []
    # ALICE, resolved before the stop, is not resolved again; BOB and GONE are
    assert op.progress.counts == {"resolved": 1, "stale_not_found": 1}


async def test_cancel_during_discovery_stops_within_one_page(relay_app: AppFactory, network: LoopbackRelay) -> None:
    network.index[records.COMMENT] = [f"did:plc:many{n:022d}" for n in range(200)]
    network.delay = 0.2
    app = relay_app()
    async with running_client(app) as client:
        served = Served(app, client)
        op_id = started(await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan"}))
        async with asyncio.timeout(30):
            while len(network.requests) < 3:
                await asyncio.sleep(0.02)
        asked = len(network.requests)
        assert (await call(client, ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id})).status_code == 200
        op = await wait_ended(client, op_id)
        assert op["status"] == "cancelled"
        assert op["stage"] == "discovering_repos"
        assert len(network.requests) <= asked + 1  # the page in flight, and no other
        assert await served.rows("SELECT count(*) FROM records") == [(0,)]


async def test_collection_and_limit_are_refused_where_they_mean_nothing(
    relay_app: AppFactory, network: LoopbackRelay
) -> None:
    del network
    async with running_client(relay_app()) as client:
        for body, words in [
            ({"pdsUrl": "http://127.0.0.1:1", "limit": 5}, "give no pdsUrl"),
            ({"collection": "app.bsky.feed.post"}, "not a pub.chive record collection"),
            ({"limit": 0}, "limit"),
        ]:
            answer = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan", **body})
            assert answer.status_code == 400, body
            assert words in answer.json()["message"], answer.json()
        other = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "fullReindex", "limit": 5})
        assert other.status_code == 400


async def test_without_a_relay_a_scan_without_pds_url_crawls_the_known_pdses(
    relay_app: AppFactory, hosting: ScriptedPds, network: LoopbackRelay
) -> None:
    app = relay_app(discovery="pds")
    async with running_client(app) as client:
        async with app.state.services.db.write() as conn:
            await index.ensure_pds(conn, hosting.url, "2026-01-01T00:00:00.000000Z")
        op = await Served(app, client).run(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan"})
        refused = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "pdsScan", "limit": 1})
    assert op["status"] == "completed", op
    assert network.requests == []
    assert op["totalRepos"] == 3  # ALICE, BOB and CAROL: what the PDS lists
    assert refused.status_code == 400
    assert "need a relay" in refused.json()["message"]


async def test_a_relay_on_a_private_address_ends_discovery_unsafe_without_allow_private_network(
    relay_app: AppFactory, network: LoopbackRelay
) -> None:
    async with serving(relay_app(allow_private_network=False)) as served:
        op = await network_backfill(served)
    assert op["status"] == "failed", op
    assert op["errorCode"] == "relay_unsafe"
    assert network.requests == []


async def test_a_did_whose_directory_fails_is_dead_lettered_and_retried_as_a_did_sync(
    relay_app: AppFactory, hosting: ScriptedPds, network: LoopbackRelay
) -> None:
    hosting.overrides[f"/{ALICE}"] = Answer(500, b'{"error": "InternalServerError"}')
    async with serving(relay_app()) as served:
        op = await network_backfill(served, {"collection": records.COMMENT})
        entries = (await call(served.client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()["entries"]
        # the directory is back: the retry syncs ALICE's repository with a did-sync
        del hosting.overrides[f"/{ALICE}"]
        retried = await call(served.client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 0})
        async with asyncio.timeout(30):
            while not await served.rows(
                "SELECT status FROM operations WHERE type = 'did-sync' AND status = 'completed'"
            ):
                await asyncio.sleep(0.05)
        held = await served.rows("SELECT DISTINCT did FROM records ORDER BY did")
    assert op["status"] == "partial", op
    assert (op["recordsFailed"], op["totalRepos"], op["processedRepos"]) == (1, 3, 3)
    assert [(e["errorType"], e.get("did")) for e in entries] == [("did_unresolved", ALICE)]
    assert retried.status_code == 200, retried.text
    assert held == [(ALICE,), (BOB,)]


# --- how a repository's records are committed ---


def counting_updates(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The state of each work-item update the scan makes from here on."""
    states: list[str] = []
    update = work_items.update

    async def counted(conn: Any, op_id: str, did: str, *, state: str, info: dict[str, Any]) -> None:
        states.append(state)
        await update(conn, op_id, did, state=state, info=info)

    monkeypatch.setattr(work_items, "update", counted)
    return states


async def scanned_from_the_start(app: Starlette, url: str) -> tuple[operations.Operation, int]:
    """:func:`listing_from_the_start`, once it has ended; with the records held then."""
    op = await ended(app, await listing_from_the_start(app, url))
    async with app.state.services.db.read() as conn:
        return op, len(await index.record_cids(conn, LISTED))


async def test_a_small_repository_is_written_in_one_transaction_with_its_end(
    app: Starlette, pds: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = pds
    states = counting_updates(monkeypatch)
    op, held = await scanned_from_the_start(app, url)
    assert (op.status, op.progress.records_processed, held) == ("completed", 3, 3)
    # its two pages were not committed one by one, and then its end: all of it at once
    assert states == ["done"]


def numbered(request: Request) -> Answer:
    """``LISTED`` holds 700 comments, listed a full page at a time from the highest key down (``reverse`` is
    ignored: the second listing is dropped and the first lists them all)."""
    if not request.url.path.endswith(ids.COM_ATPROTO_REPO_LIST_RECORDS):
        return answer(request)
    cursor = request.query_params.get("cursor")
    keys = [f"3kd{n:04d}" for n in range(699, -1, -1)]
    below = [key for key in keys if cursor is None or key < cursor][: listing.PAGE_SIZE]
    page: dict[str, Any] = {"records": [comment(key) for key in below]}
    if below:
        page["cursor"] = below[-1]
    return Answer(200, json.dumps(page).encode())


async def test_a_large_repository_commits_several_pages_at_a_time(
    app: Starlette, pds: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = pds
    script.default = numbered
    states = counting_updates(monkeypatch)
    op, held = await scanned_from_the_start(app, url)
    assert (op.status, op.progress.records_processed, held) == ("completed", 700, 700)
    # seven pages: a position committed with each batch of at least BATCH_RECORDS, the rest with the end
    assert states.count("pending") <= 700 // pds_scan.BATCH_RECORDS
    assert states[-1] == "done"


# --- a host's word about whose repositories it holds: a hostile PDS lists other people's DIDs ---

VICTIM = "did:plc:victimlivesonanotherpds00"
SUSPENDED = "did:plc:victimcalledtakendownthere"
MOVED = "did:plc:victimcalleddeactivated000"
GHOST = "did:plc:nodirectoryknowsthisdid00"
MALLORY = "did:plc:malloryrunsthehostilepds0"


@pytest.fixture
def hostile() -> Iterator[tuple[ScriptedPds, ScriptedPds]]:
    """``home``: the PLC directory, and the PDS the victims' DID documents name; ``hostile``: MALLORY's PDS (her DID
    document names it), which also lists VICTIM with forged records, MOVED as deactivated, SUSPENDED as active but
    taken down when asked for its records, and GHOST, a DID no directory knows."""
    eprint = records.at_uri(VICTIM, records.SUBMISSION, "e1")
    with scripted_pds() as home, scripted_pds() as evil:
        for did in (VICTIM, SUSPENDED, MOVED):
            home.put(did, records.COMMENT, "3kc1", records.review_comment(eprint_uri=eprint, text="mine"))
            evil.put(did, records.COMMENT, "3kc2", records.review_comment(eprint_uri=eprint, text="forged"))
        evil.repo(MOVED).status = "deactivated"
        evil.put(GHOST, records.COMMENT, "3kc3", records.review_comment(eprint_uri=eprint))
        evil.put(MALLORY, records.COMMENT, "3kc4", records.review_comment(eprint_uri=eprint, text="her own"))
        document = did_document(MALLORY, "mallory.test", evil.url)
        home.overrides[f"/{MALLORY}"] = Answer(200, json.dumps(document).encode(), {"content-type": "application/json"})

        def taken_down(request: Request) -> Answer | None:
            if request.query_params.get("repo") != SUSPENDED and request.query_params.get("did") != SUSPENDED:
                return None
            if request.url.path.endswith(ids.COM_ATPROTO_SYNC_GET_REPO_STATUS):
                status = {"did": SUSPENDED, "active": False, "status": "takendown"}
                return Answer(200, json.dumps(status).encode(), {"content-type": "application/json"})
            return Answer(400, b'{"error": "RepoTakendown", "message": "Repo has been takendown"}')

        evil.overrides[ids.COM_ATPROTO_REPO_DESCRIBE_REPO] = taken_down
        evil.overrides[ids.COM_ATPROTO_SYNC_GET_REPO_STATUS] = taken_down
        yield home, evil


@pytest.fixture
async def facing(make_app: AppFactory, hostile: tuple[ScriptedPds, ScriptedPds]) -> AsyncIterator[Served]:
    """A server whose PLC directory is ``home``'s."""
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=hostile[0].url, upstream_attempts=1)
    async with serving(app) as served:
        yield served


async def test_a_host_listing_dids_that_live_elsewhere_can_neither_write_nor_hide_their_records(
    facing: Served, hostile: tuple[ScriptedPds, ScriptedPds]
) -> None:
    (home, evil), served = hostile, facing
    # the victims' own records, indexed from their own PDS
    for did in (VICTIM, SUSPENDED, MOVED):
        genuine = home.repos[did].records[records.COMMENT]["3kc1"]
        row = IndexedRecord.from_parts(did, records.COMMENT, "3kc1", cid_of(genuine), genuine)
        async with served.db.write() as conn:
            await apply_records(conn, [row], now_stamp())
            await index.upsert_repo(conn, did, now_stamp(), pds_url=home.url, status="active")
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": evil.url})
    held = await served.rows("SELECT did, rkey, hidden FROM records ORDER BY did, rkey")
    repos = await served.rows("SELECT did, pds_url, status FROM repos ORDER BY did")
    dead = await served.rows("SELECT count(*) FROM dead_letters")
    assert op["status"] == "completed", op
    assert op["counts"] == {"hosted_elsewhere": 2, "stale_not_found": 1, "inactive_elsewhere": 1}, op
    # only MALLORY's own record came from her PDS; the victims' stayed as their PDS has them, and visible
    assert held == sorted([(MALLORY, "3kc4", 0), (VICTIM, "3kc1", 0), (SUSPENDED, "3kc1", 0), (MOVED, "3kc1", 0)])
    assert repos == sorted(
        [(MALLORY, evil.url, "active"), *((did, home.url, "active") for did in (VICTIM, SUSPENDED, MOVED))]
    )
    assert dead == [(0,)]


async def test_a_dead_lettered_repository_is_not_retried_from_a_host_that_is_not_its_pds(
    facing: Served, hostile: tuple[ScriptedPds, ScriptedPds]
) -> None:
    (home, evil), served = hostile, facing
    async with served.db.write() as conn:
        await dead_letters.add(
            conn,
            operation_id=None,
            job_type="pds-scan",
            error_type="repo_fetch_failed",
            message="502 UpstreamFailure",
            context={"did": VICTIM, "pds": evil.url},
            item={"kind": "repo", "did": VICTIM, "pds": evil.url},
            now=now_stamp(),
        )
    response = await call(served.client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 0})
    assert response.status_code == 200, response.text
    for active in (await call(served.client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS)).json()["operations"]:
        await wait_ended(served.client, active["id"])
    entries = (await call(served.client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()["entries"]
    held = await served.rows("SELECT count(*) FROM records")
    assert [(e["retryCount"], e["errorMessage"]) for e in entries] == [
        (1, f"{evil.url} lists {VICTIM}, whose DID document names {home.url} as its PDS")
    ]
    assert held == [(0,)]
