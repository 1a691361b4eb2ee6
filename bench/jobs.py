"""Throughput of the jobs that need no network, beside a baseline measured in the same run:

* full-reindex of N eprints (records/s) vs writing the same search documents straight into FTS5 in one transaction;
* citation extraction from PDFs (PDFs/s) vs pypdf's bare text extraction of the same files.

    python -m bench.jobs [--eprints 20000] [--pdfs 200]

The network jobs (pds-scan, did-sync) are measured by ``bench.ingest`` against the testnet. It prints; it never
asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin.citations.extract import extract_citations
from chive_admin.citations.text import extract_text
from chive_admin.ingest.write import apply_records
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store import search
from chive_admin.store.index import IndexedRecord
from testnet.records import minimal_pdf

ADMIN = {"Authorization": "Bearer admin"}
DID = "did:plc:benchjobs0000000000000000"


def eprint(n: int) -> IndexedRecord:
    value = {
        "title": f"Study {n} of backfill",
        "abstractPlainText": "graphs " * 40,
        "keywords": ["k", "atproto"],
        "authors": [{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}],
    }
    return IndexedRecord.from_parts(DID, search.EPRINT_COLLECTION, f"e{n:07d}", f"cid{n}", value)


async def reindex(path: Path, count: int) -> float:
    # the default engine: a trigger wakes a worker at once, and no idle worker claims 100×/s beside the job
    app = create_app(Settings(db=path), authenticator=FixedTokens())
    async with app.router.lifespan_context(app):
        async with app.state.services.db.write() as conn:
            await apply_records(conn, [eprint(n) for n in range(count)], "2026-01-01T00:00:00.000000Z")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started = time.perf_counter()
            answer = await client.post(
                f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX}", json={"batchSize": 1000}, headers=ADMIN
            )
            op_id = answer.json()["operationId"]
            while True:
                op: dict[str, Any] = (
                    await client.get(
                        f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", params={"id": op_id}, headers=ADMIN
                    )
                ).json()["operation"]
                if op["status"] not in ("queued", "running"):
                    return time.perf_counter() - started
                await asyncio.sleep(0.005)


def raw_fts(count: int) -> float:
    docs = [search.document_for(r.uri, r.value) for r in (eprint(n) for n in range(count))]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE s USING fts5(uri UNINDEXED, title, abstract, keywords, authors)")
    started = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO s VALUES (?, ?, ?, ?, ?)", [(d.uri, d.title, d.abstract, d.keywords, d.authors) for d in docs]
        )
    return time.perf_counter() - started


def measure(argv: list[str] | None = None) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eprints", type=int, default=20_000)
    parser.add_argument("--pdfs", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ours = asyncio.run(reindex(Path(tmp) / "jobs.db", args.eprints))
    base = raw_fts(args.eprints)
    lines = [
        "A Study",
        "We cite doi:10.1000/a1 and arXiv:2101.01234.",
        "References",
        *[f"[{i}] Author {i}. Title {i}. https://doi.org/10.1000/r{i}" for i in range(1, 30)],
    ]
    pdfs = [minimal_pdf([*lines, f"copy {n}"]) for n in range(args.pdfs)]
    from pypdf import PdfReader

    started = time.perf_counter()
    for pdf in pdfs:
        "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    found = sum(len(extract_citations(extract_text(pdf, "application/pdf"))) for pdf in pdfs)
    full = time.perf_counter() - started
    rate, raw_rate = args.eprints / ours, args.eprints / base
    return (
        f"jobs without network: full-reindex of {args.eprints:,} eprints, citation extraction of {args.pdfs} PDFs",
        [
            (
                "full-reindex",
                f"{rate:,.0f} rec/s",
                f"{raw_rate:,.0f} rec/s (bare FTS5 insert)",
                f"{rate / raw_rate:.0%}",
                "",
            ),
            (
                "citation extraction",
                f"{args.pdfs / full:,.0f} PDF/s",
                f"{args.pdfs / bare:,.0f} PDF/s (bare pypdf)",
                f"{bare / full:.0%}",
                f"{found // args.pdfs} citations/PDF",
            ),
        ],
    )


def main() -> None:
    report(measure)


if __name__ == "__main__":
    main()
