"""citation-extraction resuming from what the previous version stored (fetching documents is in
tests/interop/backfill/test_citation_extraction.py)."""

from __future__ import annotations

from conftest import AppFactory, running_client
from support.api import call, wait_ended
from support.auth import FixedTokens
from support.engine import engine_config
from support.pds import ScriptedPds
from support.resume import ended, left_off
from support.served import Served

from chive_admin._generated import ids
from chive_admin.ingest.write import apply_records
from chive_admin.store import citations, search
from chive_admin.store.index import IndexedRecord
from testnet import records

DID = "did:plc:author000000000000000000"


def eprint(n: int) -> IndexedRecord:
    """An eprint without a document: it cites nothing, and nothing is fetched to learn it."""
    value = {"title": f"Study {n}", "abstractPlainText": "graphs", "authors": [{"name": "Ada"}]}
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, f"e{n}", f"cid{n}", value)


async def test_an_extraction_stored_by_the_previous_version_resumes_after_its_checkpoint(
    make_app: AppFactory,
) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async for _ in running_client(app):
        async with app.state.services.db.write() as conn:
            await apply_records(conn, [eprint(n) for n in range(3)], "2026-01-01T00:00:00.000000Z")
        # the JSON the previous version stored once it was past the first eprint
        op_id = await left_off(app, "citation-extraction", {}, {"after": eprint(0).uri})
        op = await ended(app, op_id)
        async with app.state.services.db.read() as conn:
            left = await citations.pending(conn, "", 10)
    assert (op.status, op.attempts, op.progress.records_processed) == ("completed", 2, 2)
    assert op.checkpoint == {"after": eprint(2).uri}
    assert [e.uri for e in left] == [eprint(0).uri]  # before the checkpoint: not extracted again


CITING = [
    "On Two-Ended Listings",
    "We build on doi:10.5555/cited.1.",
    "References",
    "[1] A. Lovelace. Notes on the engine. 1843. https://doi.org/10.5555/cited.1",
    "[2] C. Babbage. Passages from the Life of a Philosopher. 1864.",
]


def submit(pds: ScriptedPds, rkey: str, lines: list[str], *, doi: str | None = None, upload: bool = True) -> str:
    """An eprint of ``DID`` whose document (a PDF of ``lines``) the PDS holds, unless not ``upload``ed."""
    pdf = records.minimal_pdf(lines)
    document = records.blob_ref(pdf, "application/pdf")
    if upload:
        pds.repo(DID).blobs[document["ref"]["$link"]] = (pdf, "application/pdf")
    value = records.eprint_submission(
        submitted_by=DID, document=document, doi=doi, arxiv_id=None, created_at="2026-01-01T00:00:00.000Z"
    )
    return pds.put(DID, records.SUBMISSION, rkey, value)


async def test_the_uri_must_name_an_indexed_eprint(served: Served) -> None:
    unknown = "at://did:plc:nobodynobodynobodynobody/pub.chive.eprint.submission/3kx"
    refused = await call(served.client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": unknown})
    assert refused.status_code == 400
    assert refused.json()["message"] == f"uri: {unknown} is not an indexed pub.chive.eprint.submission"
    malformed = await call(served.client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": "not-a-uri"})
    assert (malformed.status_code, malformed.json()["error"]) == (400, "InvalidRequest")
    assert await served.rows("SELECT count(*) FROM operations") == [(0,)]


async def test_the_citations_of_every_pending_eprint_are_stored(pds: ScriptedPds, served: Served) -> None:
    cited = submit(pds, "3kaaaaaaaaaa1", ["The cited work"], doi="10.5555/cited.1")
    citing = submit(pds, "3kaaaaaaaaaa2", CITING)
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": DID}))["status"] == "completed"
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION)
    assert (op["status"], op["totalRecords"], op["recordsProcessed"]) == ("completed", 2, 2)
    assert op["counts"] == {"citations": 2}
    async with served.db.read() as conn:
        found = await citations.of_eprint(conn, citing)
        assert await citations.count_pending(conn) == 0
    assert found == [
        ("doi", "10.5555/cited.1", cited),  # linked to the indexed eprint that has that DOI
        ("reference", "C. Babbage. Passages from the Life of a Philosopher. 1864.", None),
    ]
    # nothing pending: a second run reads no document
    fetched = pds.seen.count(ids.COM_ATPROTO_SYNC_GET_BLOB)
    again = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION)
    assert (again["status"], again["totalRecords"], pds.seen.count(ids.COM_ATPROTO_SYNC_GET_BLOB)) == (
        "completed",
        0,
        fetched,
    )
    # one eprint by uri is extracted again, done or not
    one = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": citing})
    assert (one["status"], one["totalRecords"], one["counts"]) == ("completed", 1, {"citations": 2})


async def test_a_document_that_cannot_be_fetched_is_dead_lettered_then_retried(
    pds: ScriptedPds, served: Served
) -> None:
    missing = submit(pds, "3kaaaaaaaaaa3", CITING, upload=False)
    assert (await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": DID}))["status"] == "completed"
    op = await served.run(ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION)
    assert (op["status"], op["recordsFailed"]) == ("partial", 1)
    [(error_type, item)] = await served.rows("SELECT error_type, item FROM dead_letters")
    assert (error_type, item) == ("blob_fetch_failed", f'{{"kind":"eprint","uri":"{missing}"}}')
    async with served.db.read() as conn:
        assert await citations.count_pending(conn) == 0  # not picked again until it changes or is retried
    submit(pds, "3kaaaaaaaaaa3", CITING)  # the PDS has the document now
    retried = await call(served.client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 0})
    [(retry_id,)] = await served.rows("SELECT id FROM operations WHERE type = 'dlq-retry'")
    assert retried.json() == {"success": True, "message": f"Entry 1 is being retried by operation {retry_id}"}
    assert (await wait_ended(served.client, retry_id))["status"] == "completed"
    assert await served.rows("SELECT count(*) FROM dead_letters") == [(0,)]
    async with served.db.read() as conn:
        assert len(await citations.of_eprint(conn, missing)) == 2
