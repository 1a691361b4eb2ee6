"""citation-extraction against the real network: documents fetched with getBlob from the PDS, citations stored and
linked to the indexed eprints they name; unreadable documents dead-lettered."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop.ops import run_op, served_app
from pypdf import PdfReader, PdfWriter
from support.api import call, wait_ended

from chive_admin._generated import ids
from chive_admin.settings import Settings
from chive_admin.store import citations
from chive_admin.store.target import DbTarget
from testnet import records
from testnet.harness import Testnet
from testnet.pds_client import PdsClient

pytestmark = pytest.mark.interop

CITING = [
    "Federated Backfill in Practice",
    "We extend prior work (doi:10.5555/chive.cited.1) and arXiv:2101.01234.",
    "Code: https://example.org/chive-admin.",
    "References",
    "[1] A. Lovelace. Notes. 1843. https://doi.org/10.5555/chive.cited.1",
    "[2] G. Hopper. Compilers. arXiv:hep-th/9901001",
    "[3] C. Babbage. Passages from the Life of a Philosopher. 1864.",
]


def encrypted(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
async def client(db_target: DbTarget, tmp_path: Path, testnet: Testnet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db=db_target, plc_url=testnet.plc_url, allow_private_network=True)
    async with served_app(settings) as c:
        yield c


async def test_citations_from_real_documents(pds2: PdsClient, client: httpx.AsyncClient) -> None:
    author = pds2.create_account(prefix="cite")

    def submit(pdf: bytes, **extra: Any) -> str:
        blob = pds2.upload_blob(author, pdf, "application/pdf")
        record = records.eprint_submission(submitted_by=author.did, document=blob, **extra)
        return pds2.create_record(author, records.SUBMISSION, record).uri

    cited = submit(records.minimal_pdf(["The cited work"]), doi="10.5555/chive.cited.1", arxiv_id=None)
    citing = submit(records.minimal_pdf(CITING), arxiv_id=None)
    locked = submit(encrypted(records.minimal_pdf(["Secret"])), arxiv_id=None)
    broken = submit(records.minimal_pdf(CITING)[:250], arxiv_id=None)
    assert (await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did}))["status"] == "completed"

    op = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {})
    assert op["status"] == "partial", op
    assert (op["recordsProcessed"], op["recordsFailed"], op["totalRecords"]) == (4, 2, 4)
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        found = await citations.of_eprint(conn, citing)
    identifiers = {row for row in found if row[0] != "reference"}
    assert identifiers == {  # exactly what the document says, the DOI linked to the eprint that has it
        ("doi", "10.5555/chive.cited.1", cited),
        ("arxiv", "2101.01234", None),
        ("arxiv", "hep-th/9901001", None),
        ("url", "https://example.org/chive-admin", None),
    }
    references = [value for kind, value, _ in found if kind == "reference"]
    assert references == ["C. Babbage. Passages from the Life of a Philosopher. 1864."]

    dead = (await call(client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES)).json()["entries"]
    by_uri = {e["uri"]: e["errorType"] for e in dead}
    assert by_uri[locked] == "encrypted_document"
    assert by_uri[broken] in ("corrupt_document", "empty_document")

    # the encrypted document replaced upstream by a readable one: retrying its entry extracts it
    locked_rkey = locked.rpartition("/")[2]
    fixed_blob = pds2.upload_blob(
        author, records.minimal_pdf(["Now readable", "doi:10.5555/chive.fixed"]), "application/pdf"
    )
    pds2.put_record(
        author,
        records.SUBMISSION,
        locked_rkey,
        records.eprint_submission(submitted_by=author.did, document=fixed_blob, arxiv_id=None),
    )
    assert (await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": author.did}))["status"] == "completed"
    index = [e["uri"] for e in dead].index(locked)
    retry = await call(client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": index})
    assert retry.json()["success"] is True
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        [(retry_id,)] = await conn.fetchall("SELECT id FROM operations WHERE type = 'dlq-retry'")
    assert (await wait_ended(client, retry_id))["status"] == "completed"
    async with client.app.state.services.db.read() as conn:  # type: ignore[attr-defined]
        fixed = await citations.of_eprint(conn, locked)
    assert ("doi", "10.5555/chive.fixed", None) in fixed

    # nothing pending now: a second run does nothing; one eprint on demand is extracted again
    again = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {})
    assert (again["status"], again["recordsProcessed"]) == ("completed", 0)
    one = await run_op(client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": citing})
    assert (one["status"], one["recordsProcessed"]) == ("completed", 1)


async def test_unknown_or_malformed_uri_is_refused(client: httpx.AsyncClient) -> None:
    for uri in ("at://did:plc:nobody/pub.chive.eprint.submission/3kx", "not-a-uri"):
        response = await call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION, {"uri": uri})
        assert response.status_code == 400, uri
