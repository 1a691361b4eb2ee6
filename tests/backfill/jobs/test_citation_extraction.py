"""citation-extraction resuming from what the previous version stored (fetching documents is in
tests/interop/backfill/test_citation_extraction.py)."""

from __future__ import annotations

from conftest import AppFactory, running_client
from support.auth import FixedTokens
from support.engine import engine_config
from support.resume import ended, left_off

from chive_admin.ingest.write import apply_records
from chive_admin.store import citations, search
from chive_admin.store.index import IndexedRecord

DID = "did:plc:author000000000000000000"


def eprint(n: int) -> IndexedRecord:
    """An eprint without a document: it cites nothing, and nothing is fetched to learn it."""
    value = {"title": f"Study {n}", "abstractPlainText": "graphs", "authors": [{"name": "Ada"}]}
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, f"e{n}", f"cid{n}", value)


async def test_an_extraction_stored_by_the_previous_version_resumes_after_its_checkpoint(
    make_app: AppFactory,
) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=engine_config(workers=1, poll_seconds=0.05))
    async with running_client(app) as _:
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
