"""Every answer of every implemented method is valid against Chive's unmodified lexicons, checked by the reference
validator (``@atproto/lexicon``, what a real ``@atproto/xrpc`` client holding Chive's lexicons runs on each answer).

The implemented methods are found, not listed: every method of the generated route registry is called once with
the smallest request its lexicon allows, and whatever does not answer 501 is implemented. Each of those must have
its calls in ``QUERIES`` or ``PROCEDURES`` below, so a method built later fails here until its answers are checked.

The calls run against one in-process server, with the real authentication (API keys), in several states: the
empty store; then with anonymous refusals and a non-admin's refusal in the audit trail, roles granted, operations of
every status (with their error codes, counts and stages), dead-letter entries, PDS registry rows and indexed
records; then again after every procedure has run on that state. The (method, answer) pairs and the request bodies
go to ``validate_answers.mjs`` in one Node run, against ``../shared/reference/chive-lexicons`` as Chive ships them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from support.clock import ManualClock
from support.engine import engine_config
from support.firehose import idle_indexer
from support.reference import reference_lexicons
from support.seeding import new_op
from support.unavailable import unavailable
from support.users import UserTokens

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import micros, now_stamp, parse_stamp, stamp_in, utc_now
from chive_admin.handlers import HANDLERS
from chive_admin.lex import Route
from chive_admin.store import activity, dead_letters, engagement, firehose_cursors, index, moderation
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store import operations as ops
from chive_admin.store.index import IndexedRecord
from chive_admin.upstream.firehose import Connected, Passing
from chive_admin.xrpc.errors import XRPCError
from testnet import records
from testnet.harness import TestnetUnavailable, locate_install, node_binary

VALIDATOR = Path(__file__).resolve().parent / "validate_answers.mjs"
PROJECT_LEXICONS = Path(__file__).resolve().parents[2] / "lexicons"

ADMIN = "did:plc:conformanceadmin000000000"
OTHER = "did:plc:conformanceother0000000000"
GOVERNANCE = records.GOVERNANCE_DID
AUTHOR = "did:plc:conformanceauthor000000000"
PDS_A = "http://127.0.0.1:1"
PDS_B = "http://127.0.0.1:2"
PDS_DOWN = "http://127.0.0.1:3"
IMPRESSION = "5b0d7a52-3a38-4f4e-9d0b-8f2b8d6c1e11"
#: methods of this server's own namespace: validated against our lexicons, Chive has none
OWN_NAMESPACE = "dev.chiveadmin."

Params = dict[str, str]
Body = dict[str, Any]

# Calls of every implemented query, made in every state (plus getBackfillStatus by id, and every getAuditLog page).
QUERIES: Mapping[str, list[Params]] = {
    ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG: [{}, {"actorDid": ADMIN}, {"actorDid": OTHER, "limit": "1"}],
    ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY: [{}],
    ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS: [{}, *({"status": s} for s in ops.STATUSES)],
    ids.PUB_CHIVE_ADMIN_GET_ENDPOINT_METRICS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_GRAPH_STATS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_NODE_METRICS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_OVERVIEW: [{}],
    ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH: [{}],
    ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES: [{}, {"limit": "1", "offset": "1"}],
    ids.PUB_CHIVE_ADMIN_LIST_EPRINTS: [{}, {"limit": "1", "offset": "1"}, {"offset": "1000"}],
    ids.PUB_CHIVE_ADMIN_LIST_IMPORTS: [{}, {"source": PDS_A, "limit": "1"}, {"source": "https://elsewhere.example"}],
    ids.PUB_CHIVE_ADMIN_LIST_PDSES: [{}, {"limit": "1"}],
    ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS: [{}, {"did": AUTHOR, "limit": "1"}],
    ids.PUB_CHIVE_ADMIN_LIST_WARNINGS: [{}, {"did": AUTHOR, "limit": "1"}, {"did": OTHER}],
    ids.PUB_CHIVE_ADMIN_SEARCH_USERS: [{"query": "a"}, {"query": "@Author", "limit": "1"}, {"query": "did:plc:c"}],
    ids.PUB_CHIVE_ADMIN_LIST_REVIEWS: [{}, {"limit": "1"}, {"limit": "1", "cursor": "1"}, {"cursor": "99"}],
    ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS: [{}, {"limit": "1"}, {"limit": "1", "cursor": "1"}],
    ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES: [
        {},
        *({"granularity": g} for g in ("hour", "day", "week")),
        {"uri": records.at_uri(OTHER, records.SUBMISSION, "o1"), "granularity": "hour"},
    ],
    ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW: [{}, {"days": "1"}, {"days": "90"}],
    ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY: [{}, {"window": "7d", "limit": "1"}, {"window": "30d"}],
    ids.PUB_CHIVE_ADMIN_GET_SEARCH_ANALYTICS: [{}],
    ids.PUB_CHIVE_ADMIN_GET_ACTIVITY_CORRELATION: [{}],
}
# Calls of implemented queries that answer only once the index holds what they name (NotFound before).
INDEXED_QUERIES: Mapping[str, list[Params]] = {
    ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL: [{"did": AUTHOR}, {"did": GOVERNANCE}],
}

# Calls of the methods a user makes with its own service-auth token (a stand-in authenticator here: the real one is
# tested with a real PDS in tests/interop/handlers), made before the store is populated: the intent on a1 is confirmed
# by engagement_history (as the index's write path would), the one on b1 fails, the one on n9 stays pending.
USER_PROCEDURES: Mapping[str, list[Body]] = {
    ids.PUB_CHIVE_ACTIVITY_LOG: [
        {"collection": records.SUBMISSION, "rkey": "a1", "action": "create", "category": "eprint_submit"},
        {
            "collection": records.SUBMISSION,
            "rkey": "b1",
            "action": "create",
            "category": "eprint_submit",
            "targetTitle": "On graphs",
            "traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": "b7ad6b7169203331",
            "uiContext": "{}",
            "recordSnapshot": '{"title": "On graphs"}',
        },
        {"collection": records.GRAPH_NODE, "rkey": "n9", "action": "update", "category": "proposal_create"},
    ],
    ids.PUB_CHIVE_ACTIVITY_MARK_FAILED: [
        {"collection": records.SUBMISSION, "rkey": "b1", "errorCode": "PDS_ERROR", "errorMessage": "the PDS said no"}
    ],
}

# Calls of every implemented procedure, made once the store is full (in this order: the last ones empty the DLQ).
PROCEDURES: Mapping[str, list[Body]] = {
    ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE: [{"did": OTHER, "role": "reader"}, {"did": OTHER, "role": "reader"}],
    ids.PUB_CHIVE_ADMIN_REVOKE_ROLE: [{"did": OTHER, "role": "moderator"}, {"did": OTHER, "role": "premium"}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN: [{"pdsUrl": PDS_B}, {"pdsUrl": PDS_B}, {}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC: [{"did": AUTHOR}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN: [{"tier": "warm"}, {}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX: [{"batchSize": 50}, {}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC: [{}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION: [{}, {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1")}],
    ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL: [
        {"type": "pdsScan", "pdsUrl": PDS_A},
        {"type": "didSync", "did": OTHER},
        {"type": "freshnessScan"},
        {"type": "fullReindex", "batchSize": 10},
        {"type": "governanceSync"},
        {"type": "citationExtraction"},
    ],
    ids.PUB_CHIVE_ADMIN_RESCAN_PDS: [{"pdsUrl": PDS_DOWN}],
    # engagement, before the takedown of a1 below (an impression before what names it)
    ids.PUB_CHIVE_METRICS_RECORD_VIEW: [
        {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1")},
        {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1"), "viewerDid": OTHER},
    ],
    ids.PUB_CHIVE_METRICS_RECORD_DOWNLOAD: [
        {"uri": records.at_uri(OTHER, records.SUBMISSION, "o1"), "viewerDid": ADMIN}
    ],
    ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION: [
        {"impressionId": IMPRESSION, "query": "graphs", "resultCount": 2, "at": "2026-01-01T00:00:00.000Z"},
    ],
    ids.PUB_CHIVE_METRICS_RECORD_SEARCH_CLICK: [
        {"impressionId": IMPRESSION, "uri": records.at_uri(OTHER, records.SUBMISSION, "o1"), "position": 1}
    ],
    ids.PUB_CHIVE_METRICS_RECORD_DWELL_TIME: [
        {"impressionId": IMPRESSION, "uri": records.at_uri(OTHER, records.SUBMISSION, "o1"), "dwellTimeMs": 5300}
    ],
    ids.PUB_CHIVE_METRICS_RECORD_SEARCH_DOWNLOAD: [
        {"impressionId": IMPRESSION, "uri": records.at_uri(OTHER, records.SUBMISSION, "o1")}
    ],
    ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL: [],  # filled in with the ids of a queued and a running op
    ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY: [{"index": 0}],
    ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY: [{"index": 1}],
    ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ: [{"errorType": "invalid_record"}, {}],
    ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ: [{"olderThanDays": 30}, {}],
    # an indexed eprint taken down, the repeat, and a review not indexed yet taken down in advance
    ids.PUB_CHIVE_ADMIN_DELETE_CONTENT: [
        {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1"), "collection": records.SUBMISSION, "reason": "spam"},
        {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1"), "collection": records.SUBMISSION},
        {"uri": records.at_uri(AUTHOR, ids.PUB_CHIVE_REVIEW_COMMENT, "r1"), "collection": ids.PUB_CHIVE_REVIEW_COMMENT},
    ],
}


# --- the Node side --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    nsid: str
    kind: str  # "output" (an answer) or "input" (a request body)
    value: Any
    label: str


def node_install() -> Path:
    try:
        return locate_install()
    except TestnetUnavailable as exc:
        unavailable(f"Node 22 with @atproto/lexicon (the testnet install) unavailable: {exc}")


@dataclass(frozen=True)
class Verdict:
    lexicons: int
    unloadable: list[dict[str, str]]
    failures: list[str]


def validate(checks: list[Check], lexicon_dir: Path, install: Path, work: Path) -> Verdict:
    """One Node run of the reference validator over every check; failures as ``label: validator message``."""
    payload = work / "checks.json"
    payload.write_text(json.dumps({"lexiconDir": str(lexicon_dir), "checks": [c.__dict__ for c in checks]}))
    proc = subprocess.run(
        [str(node_binary(install)), str(VALIDATOR), str(payload)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TESTNET_NODE_MODULES": str(install), "PATH": "/usr/bin:/bin"},
        cwd=install,
        check=False,
    )
    assert proc.returncode == 0, f"validate_answers.mjs failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    answer = json.loads(proc.stdout)
    failures = [f"{checks[f['index']].label}: {f['error']}" for f in answer["failures"]]
    return Verdict(answer["lexicons"], answer["unloadable"], failures)


# --- the smallest request a lexicon allows --------------------------------------------------------------------

SAMPLE_BY_FORMAT = {
    "did": OTHER,
    "at-uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1"),
    "uri": PDS_DOWN,
    "nsid": records.SUBMISSION,
    "datetime": "2026-01-01T00:00:00.000Z",
    "handle": "someone.test",
    "at-identifier": OTHER,
}


def _lexicon(nsid: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((PROJECT_LEXICONS / (nsid.replace(".", "/") + ".json")).read_text())
    return doc


def _sample(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "ref":
        target, _, name = str(schema["ref"]).partition("#")
        return _sample((_lexicon(target) if target else doc)["defs"][name or "main"], doc)
    if kind in ("object", "params"):
        props = schema.get("properties", {})
        return {name: _sample(props[name], doc) for name in schema.get("required", [])}
    if kind == "integer":
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "string":
        if "knownValues" in schema:
            return schema["knownValues"][0]
        return SAMPLE_BY_FORMAT.get(schema.get("format", ""), "x")
    raise AssertionError(f"no sample for a {kind} in {doc['id']}: extend _sample")


async def smallest_call(client: httpx.AsyncClient, key: str, route: Route) -> httpx.Response:
    doc = _lexicon(route.nsid)
    main = doc["defs"]["main"]
    headers = {"Authorization": f"Bearer {key}"}
    params = {k: str(v) for k, v in _sample(main.get("parameters", {"type": "params"}), doc).items()}
    if route.kind == "query":
        return await client.get(f"/xrpc/{route.nsid}", params=params, headers=headers)
    body = _sample(main["input"]["schema"], doc) if "input" in main else None
    return await client.post(f"/xrpc/{route.nsid}", params=params, json=body, headers=headers)


# --- the server side ------------------------------------------------------------------------------------------


async def admin_key(app: Starlette, did: str = ADMIN) -> str:
    key = new_key()
    async with app.state.services.db.write() as conn:
        await api_keys_store.create_key(
            conn, key_id=new_key_id(), did=did, name="conformance", key_hash=key_hash(key), now=now_stamp()
        )
    return key


@dataclass
class Caller:
    client: httpx.AsyncClient
    key: str
    checks: list[Check] = field(default_factory=list)

    def _note(self, nsid: str, label: str, response: httpx.Response) -> Any:
        assert response.status_code == 200, f"{label}: {response.status_code} {response.text[:500]}"
        answer = response.json()
        self.checks.append(Check(nsid, "output", answer, label))
        return answer

    async def query(self, nsid: str, params: Params, state: str) -> Any:
        response = await self.client.get(
            f"/xrpc/{nsid}", params=params, headers={"Authorization": f"Bearer {self.key}"}
        )
        return self._note(nsid, f"[{state}] GET {nsid} {params}", response)

    async def procedure(self, nsid: str, body: Body, state: str) -> Any:
        label = f"[{state}] POST {nsid} {body}"
        self.checks.append(Check(nsid, "input", body, label + " (request body)"))
        response = await self.client.post(f"/xrpc/{nsid}", json=body, headers={"Authorization": f"Bearer {self.key}"})
        return self._note(nsid, label, response)

    async def every_query(self, state: str, op_ids: list[str]) -> None:
        for nsid, variants in QUERIES.items():
            for params in variants:
                await self.query(nsid, params, state)
        for nsid, variants in INDEXED_QUERIES.items():
            for params in variants if state != "empty" else []:
                await self.query(nsid, params, state)
        for op_id in op_ids:
            await self.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, {"id": op_id}, state)
        cursor: str | None = None
        for _ in range(300):  # every page of the audit trail, two entries a page
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await self.query(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, params, state)
            cursor = page.get("cursor")
            if cursor is None:
                break
        else:
            raise AssertionError(f"[{state}] getAuditLog: still a cursor after 300 pages")


async def refusals(client: httpx.AsyncClient, other_key: str) -> None:
    """Calls refused before any identity was established, and one refused for want of the admin role."""
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    answers = [
        await client.get(status),
        await client.get(status, headers={"Authorization": "Bearer ca_" + "x" * 43}),
        await client.get(status, headers={"Authorization": "Bearer not.a.jwt"}),
        await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", params={"limit": "abc"}),
        await client.get(status, headers={"Authorization": f"Bearer {other_key}"}),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 400, 403]


async def _op(conn: Any, op_type: str, params: dict[str, Any], *, claim: bool) -> ops.Operation:
    return await new_op(conn, op_type, params, started_by=ADMIN, claimed_by="conformance" if claim else None)


async def operations_of_every_status(app: Starlette) -> dict[str, str]:
    """One op per status (two queued: one waiting, one sent back with an error code; two cancelled), with realistic
    counters. A claim takes the oldest queued op of its type: no op is left queued before a claim of its type."""
    made: dict[str, str] = {}
    progress = ops.Progress(
        stage="fetching_records",
        records_processed=120,
        total_records=400,
        total_repos=12,
        processed_repos=3,
        records_failed=2,
        counts={"inserted": 100, "updated": 18, "unchanged": 2},
    )
    async with app.state.services.db.write() as conn:
        waiting = await _op(conn, "pds-scan", {"pdsUrl": "http://127.0.0.1:12"}, claim=True)
        await ops.save_progress(conn, waiting.id, "conformance", progress, now_stamp(), checkpoint={"phase": "x"})
        await ops.release(
            conn, waiting.id, "conformance", now_stamp(), error="the disk is full", error_code="storage_full"
        )
        made["queued-with-error"] = waiting.id
        running = await _op(conn, "did-sync", {"did": AUTHOR}, claim=True)
        await ops.save_progress(conn, running.id, "conformance", progress, now_stamp())
        made["running"] = running.id
        cancelling = await _op(conn, "full-reindex", {"batchSize": 7}, claim=True)
        await ops.save_progress(conn, cancelling.id, "conformance", ops.Progress(stage="rebuilding"), now_stamp())
        await ops.request_cancel(conn, cancelling.id, now_stamp())
        made["cancelling"] = cancelling.id
        for outcome, op_type, params, extra in [
            (ops.Outcome.COMPLETED, "freshness-scan", {"tier": "hot"}, {}),
            (ops.Outcome.PARTIAL, "citation-extraction", {"uri": records.at_uri(AUTHOR, records.SUBMISSION, "a1")}, {}),
            (
                ops.Outcome.FAILED,
                "did-sync",
                {"did": OTHER},
                {
                    "error": "cannot fetch the repository of did:plc:x: 502 UpstreamFailure",
                    "error_code": "repo_fetch_failed",
                    "error_context": {"did": OTHER, "pds": PDS_A, "status": 502, "upstreamError": "UpstreamFailure"},
                },
            ),
            (ops.Outcome.CANCELLED, "governance-sync", {}, {}),
        ]:
            op = await _op(conn, op_type, params, claim=True)
            await ops.save_progress(conn, op.id, "conformance", progress, now_stamp())
            await ops.finish(conn, op.id, "conformance", outcome, now_stamp(), **extra)
            made[outcome.value] = op.id
        cancelled_queued = await _op(conn, "citation-extraction", {}, claim=False)
        await ops.request_cancel(conn, cancelled_queued.id, now_stamp())
        made["cancelled-before-start"] = cancelled_queued.id
        # last: a claim takes the oldest queued op of its type
        made["queued"] = (await _op(conn, "pds-scan", {"pdsUrl": "http://127.0.0.1:11"}, claim=False)).id
    app.state.services.status_answers.changed()
    return made


async def dead_letter_entries(app: Starlette, op_ids: dict[str, str]) -> None:
    async with app.state.services.db.write() as conn:
        for error_type, item, context in [
            (
                "invalid_record",
                {"kind": "record", "uri": records.at_uri(AUTHOR, records.SUBMISSION, "bad1"), "pds": PDS_A},
                {"did": AUTHOR, "problem": "title: expected a string", "$type": "pub.chive.eprint.submission"},
            ),
            ("repo_fetch_failed", {"kind": "repo", "did": OTHER, "pds": PDS_A}, {"status": 502, "upstreamError": None}),
            ("pds_unreachable", {"kind": "pds", "pdsUrl": PDS_DOWN}, {"host": PDS_DOWN, "status": None}),
        ]:
            entry = await dead_letters.add(
                conn,
                operation_id=op_ids["partial"],
                job_type="pds-scan",
                error_type=error_type,
                message=f'{error_type}: \u202eunicode, "quotes" and\nnewlines',
                context=context,
                item=item,
                now=now_stamp(),
            )
        await dead_letters.retried_and_failed(conn, entry, "still unreachable", now_stamp())


async def registry_and_index(app: Starlette) -> None:
    now = now_stamp()
    node_a = records.graph_node(label="Computer Science", wikidata="Q21198", description="The study of computation")
    node_b = records.graph_node(label="Distributed Computing", kind="object", subkind="topic", status="proposed")
    edge = records.graph_edge(source_uri=records.node_uri(node_b["id"]), target_uri=records.node_uri(node_a["id"]))
    pdf = records.minimal_pdf()
    eprint = records.eprint_submission(submitted_by=AUTHOR, document=records.blob_ref(pdf, "application/pdf"))
    # a second eprint without the optional fields listEprints reads (status, field), submitted from OTHER's repository
    bare = records.eprint_submission(
        submitted_by=AUTHOR, document=records.blob_ref(pdf, "application/pdf"), field=None, title="Bare"
    )
    del bare["publicationStatusSlug"]
    a1 = records.at_uri(AUTHOR, records.SUBMISSION, "a1")
    collection = records.graph_node(label="Reading list", kind="object", subkind="collection", created_by=AUTHOR)
    rows = [
        IndexedRecord.from_parts(GOVERNANCE, records.GRAPH_NODE, "n1", records.raw_cid(b"n1"), node_a),
        IndexedRecord.from_parts(GOVERNANCE, records.GRAPH_NODE, "n2", records.raw_cid(b"n2"), node_b),
        IndexedRecord.from_parts(GOVERNANCE, records.GRAPH_EDGE, "e1", records.raw_cid(b"e1"), edge),
        IndexedRecord.from_parts(AUTHOR, records.SUBMISSION, "a1", records.raw_cid(b"a1"), eprint),
        IndexedRecord.from_parts(OTHER, records.SUBMISSION, "o1", records.raw_cid(b"o1"), bare),
        IndexedRecord.from_parts(AUTHOR, records.PROFILE, "self", records.raw_cid(b"p"), records.actor_profile()),
        IndexedRecord.from_parts(
            OTHER, records.COMMENT, "c1", records.raw_cid(b"c1"), records.review_comment(eprint_uri=a1)
        ),
        IndexedRecord.from_parts(
            OTHER, records.ENDORSEMENT, "d1", records.raw_cid(b"d1"), records.review_endorsement(eprint_uri=a1)
        ),
        IndexedRecord.from_parts(
            OTHER, records.USER_TAG, "t1", records.raw_cid(b"t1"), records.user_tag(eprint_uri=a1)
        ),
        IndexedRecord.from_parts(AUTHOR, records.GRAPH_NODE, "n3", records.raw_cid(b"n3"), collection),
        *(
            IndexedRecord.from_parts(did, nsid, rkey, records.raw_cid(rkey.encode()), make(eprint_uri=a1))
            for did, nsid, rkey, make in (
                (AUTHOR, records.COMMENT, "c2", records.review_comment),
                (GOVERNANCE, records.COMMENT, "c3", records.review_comment),
                (AUTHOR, records.ENDORSEMENT, "d2", records.review_endorsement),
                (GOVERNANCE, records.ENDORSEMENT, "d3", records.review_endorsement),
            )
        ),
    ]
    async with app.state.services.db.write() as conn:
        await index.record_pds_scan(conn, PDS_A, now, repo_count=2)
        await index.record_pds_scan(conn, PDS_B, now, error="connection refused")
        for _ in range(3):
            await index.record_pds_scan(conn, PDS_DOWN, now, error="timed out")
        await index.upsert_records(conn, rows, now)
        # the governance repository without a verified handle: the optional fields are left out
        await index.upsert_repo(conn, GOVERNANCE, now, handle=None, pds_url=PDS_A, synced=True)
        await index.upsert_repo(conn, AUTHOR, now, handle="author.test", pds_url=PDS_A, synced=True)
        # the live indexer's committed position: getFirehoseStatus answers a cursor from here on
        await firehose_cursors.advance(conn, PDS_A, 42, now)
    # a live source as this process consumes it, an event waiting for two minutes: getFirehoseStatus lists it,
    # getSystemHealth reports it degraded
    clock = ManualClock(parse_stamp(now).timestamp())
    flow = idle_indexer(app.state.services, PDS_A, clock).stats.flow
    flow.received(Connected(42), clock())
    flow.received(Passing(43, "#identity", AUTHOR, clock() - 120), clock())


async def engagement_history(app: Starlette) -> None:
    """Views and downloads of both eprints over the last weeks, so the analytics answer non-empty lists."""
    now_hour = int(utc_now().timestamp()) // 3600
    a1, o1 = records.at_uri(AUTHOR, records.SUBMISSION, "a1"), records.at_uri(OTHER, records.SUBMISSION, "o1")
    events = [
        engagement.Event(uri, kind, now_hour - back, f"viewer-{n}")
        for uri, kind, backs in ((a1, "view", (1, 5, 30, 200, 800)), (o1, "view", (1, 50)), (o1, "download", (2,)))
        for back in backs
        for n in range(1 + back % 3)
    ]
    async with app.state.services.db.write() as conn:
        await engagement.record(conn, events)
        await activity.confirm(conn, [a1], ["create"], micros(utc_now()))
    app.state.services.hourly_answers.clear()  # the empty state's rankings were kept for this hour


async def moderation_record(app: Starlette) -> None:
    """Warnings active, lapsing, expired and revoked; violations of every severity, open and resolved, with and
    without their optional fields (the author's repository is indexed: its handle is shown)."""
    now = now_stamp()
    async with app.state.services.db.write() as conn:
        await moderation.add_warning(conn, did=AUTHOR, reason="spam links in abstracts", issued_by=ADMIN, now=now)
        await moderation.add_warning(
            conn,
            did=AUTHOR,
            reason='\u202eunicode, "quotes" and\nnewlines',
            issued_by=ADMIN,
            now=now,
            expires_at=stamp_in(86400),
        )
        lapsed = stamp_in(-1)
        await moderation.add_warning(conn, did=OTHER, reason="lapsed", issued_by=ADMIN, now=now, expires_at=lapsed)
        revoked = await moderation.add_warning(conn, did=OTHER, reason="a mistake", issued_by=ADMIN, now=now)
        await moderation.revoke_warning(conn, revoked, ADMIN, now)
        for n, severity in enumerate(moderation.SEVERITIES):
            violation = await moderation.add_violation(
                conn,
                did=AUTHOR if n % 2 else OTHER,
                type="plagiarism" if n % 2 else "spam",
                severity=severity,
                recorded_by=ADMIN,
                now=now,
                description="abstract copied from doi:10.1000/x" if n else None,
                context='{"similarity":0.97}' if n else None,
                subject_uri=records.at_uri(AUTHOR, records.SUBMISSION, "a1") if n % 2 else None,
            )
            if n == 0:
                await moderation.resolve_violation(conn, violation, ADMIN, now)


@pytest.fixture
async def server(make_app: AppFactory) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = make_app(admin_dids=(ADMIN,), governance_did=GOVERNANCE, engine_config=engine_config(workers=0))
    async with running_client(app) as client:
        yield app, client


async def user_calls(app: Starlette, checks: list[Check]) -> None:
    """The users' procedures, on the same database, through an app whose callers present their own tokens."""
    services = app.state.services
    as_user = Starlette()
    as_user.state.services = dataclasses.replace(services, authenticator=UserTokens())
    as_user.router.routes = app.router.routes
    transport = httpx.ASGITransport(app=as_user)
    async with httpx.AsyncClient(transport=transport, base_url="http://chive-admin.test") as client:
        caller = Caller(client, f"jwt:{AUTHOR}", checks)
        for nsid, bodies in USER_PROCEDURES.items():
            for body in bodies:
                await caller.procedure(nsid, body, "user")


async def implemented_methods(client: httpx.AsyncClient, key: str, caller: Caller) -> set[str]:
    """Every registry method that answers the smallest call its lexicon allows with anything but 501; the 200
    answers are checked too."""
    found: set[str] = set()
    for nsid, route in sorted(ROUTES.items()):
        response = await smallest_call(client, key, route)
        if response.status_code == XRPCError.not_implemented("").status:
            assert response.json()["error"] == "MethodNotImplemented", response.text
            continue
        found.add(nsid)
        if response.status_code == 200:
            caller.checks.append(Check(nsid, "output", response.json(), f"[smallest call] {nsid}"))
    return found


async def test_every_answer_is_valid_against_chives_lexicons(
    server: tuple[Starlette, httpx.AsyncClient], make_app: AppFactory, tmp_path: Path
) -> None:
    reference = reference_lexicons()
    install = node_install()
    app, client = server
    key = await admin_key(app)
    caller = Caller(client, key)

    await caller.every_query("empty", [])

    await refusals(client, await admin_key(app, OTHER))
    await caller.procedure(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, {"did": OTHER, "role": "moderator"}, "seeding")
    await caller.procedure(ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, {"did": AUTHOR, "role": "admin"}, "seeding")
    await user_calls(app, caller.checks)
    op_ids = await operations_of_every_status(app)
    await dead_letter_entries(app, op_ids)
    await registry_and_index(app)
    await moderation_record(app)
    await engagement_history(app)
    await caller.every_query("populated", list(op_ids.values()))

    procedures = {
        **PROCEDURES,
        ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL: [{"id": op_ids["queued"]}, {"id": op_ids["running"]}],
    }
    for nsid, bodies in procedures.items():
        for body in bodies:
            await caller.procedure(nsid, body, "populated")
    await caller.every_query("after every procedure", list(op_ids.values()))

    # the smallest calls run on a server of their own: they grant roles and queue operations
    probe_app = make_app(db=tmp_path / "probe.db", admin_dids=(ADMIN,), engine_config=engine_config(workers=0))
    async with running_client(probe_app) as probe_client:
        implemented = await implemented_methods(probe_client, await admin_key(probe_app), caller)
    covered = set(QUERIES) | set(INDEXED_QUERIES) | set(PROCEDURES) | set(USER_PROCEDURES)
    assert implemented == set(HANDLERS), "the smallest calls and the handler table disagree on what is implemented"
    assert not implemented - covered, (
        f"implemented but never called here: add calls for {sorted(implemented - covered)}"
    )
    assert not covered - implemented, f"called here but not implemented (answer 501): {sorted(covered - implemented)}"

    chives = [c for c in caller.checks if not c.nsid.startswith(OWN_NAMESPACE)]
    verdict = validate(chives, reference, install, tmp_path)
    assert not verdict.unloadable, f"reference lexicons the validator could not load: {verdict.unloadable}"
    assert verdict.lexicons > 40
    assert not verdict.failures, f"{len(verdict.failures)} of {len(chives)} checks failed:\n" + "\n".join(
        verdict.failures
    )
    ours = [c for c in caller.checks if c.nsid.startswith(OWN_NAMESPACE)]
    assert ours
    own = validate(ours, PROJECT_LEXICONS, install, tmp_path)
    assert not own.unloadable
    assert not own.failures, "\n".join(own.failures)


async def test_a_method_built_later_is_found_and_must_be_listed(make_app: AppFactory) -> None:
    """The check above does not depend on anyone remembering to list a new method here."""

    async def built_later(call: Any) -> Any:
        raise XRPCError.invalid_request("not ready for this request")

    handlers = {**HANDLERS, ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL: built_later}
    app = make_app(handlers=handlers, admin_dids=(ADMIN,), engine_config=engine_config(workers=0))
    async with running_client(app) as client:
        implemented = await implemented_methods(client, await admin_key(app), Caller(client, ""))
    assert implemented == set(handlers)
    listed = set(QUERIES) | set(PROCEDURES) | set(USER_PROCEDURES)
    assert implemented - listed == {ids.PUB_CHIVE_ADMIN_GET_USER_DETAIL}
