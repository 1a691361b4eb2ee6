"""citation-extraction: fetch an eprint's document blob from its PDS, read its text, and store what it cites.

One eprint (``uri``, re-extracted even if done) or every visible eprint whose current version was not extracted
yet, in URI order (the checkpoint). A document that cannot be read (corrupt or encrypted PDF, no text, unsupported
type) or fetched goes to the dead-letter queue and the op ends ``partial``; the eprint is marked so it is not
picked again until it changes or its entry is retried.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from chive_admin.backfill import job_types
from chive_admin.backfill.context import AnyContext, JobContext
from chive_admin.backfill.items import Item
from chive_admin.backfill.job import Checkpoint, Job, JobParams, Refused, RetryFailed
from chive_admin.citations.extract import Citation, extract_citations
from chive_admin.citations.text import DocumentError, extract_text
from chive_admin.clock import now_stamp
from chive_admin.lex.formats import validate_at_uri
from chive_admin.store import citations, index
from chive_admin.store.citations import PendingEprint
from chive_admin.store.sql import Conn
from chive_admin.upstream.errors import UpstreamError

if TYPE_CHECKING:
    from chive_admin.backfill.job import JobServices

#: documents larger than this are not fetched (the submission lexicon caps its blob well below)
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
ROUND = 20


class CitationParams(JobParams):
    uri: str | None = Field(default=None)

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else validate_at_uri(value)


class CitationCheckpoint(Checkpoint):
    """Every pending eprint up to ``after`` (in URI order) was extracted or dead-lettered."""

    after: str = ""


class EprintItem(Item):
    """An eprint whose document could not be fetched or read."""

    kind: Literal["eprint"] = "eprint"
    uri: str


class Failure(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class CitationExtraction(Job[CitationParams, CitationCheckpoint]):
    kind = job_types.CITATION_EXTRACTION
    params_model = CitationParams
    checkpoint_model = CitationCheckpoint
    item_model = EprintItem
    stages = ("extracting",)

    @classmethod
    async def admit(cls, params: CitationParams, services: JobServices) -> None:
        if params.uri is None:
            return
        async with services.db.read() as conn:
            found = await citations.eprint(conn, params.uri)
        if found is None:
            raise Refused(f"uri: {params.uri} is not an indexed pub.chive.eprint.submission")

    async def run(self, ctx: JobContext[CitationCheckpoint], params: CitationParams) -> None:
        ctx.stage("extracting")
        if params.uri is not None:
            async with ctx.db.read() as conn:
                one = await citations.eprint(conn, params.uri)
            ctx.progress.total_records = 1
            if one is not None:
                await self._one(ctx, one)
            return
        if ctx.checkpoint is None:
            async with ctx.batch() as conn:
                ctx.progress.total_records = await citations.count_pending(conn)
                ctx.checkpoint = CitationCheckpoint()
        while True:
            async with ctx.db.read() as conn:
                batch = await citations.pending(conn, ctx.checkpoint.after, ROUND)
            if not batch:
                return
            for eprint in batch:
                await self._one(ctx, eprint)

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        if not isinstance(item, EprintItem):
            raise RetryFailed(f"not a citation-extraction item: {item!r}"[:200])
        async with ctx.db.read() as conn:
            eprint = await citations.eprint(conn, item.uri)
        if eprint is None:
            return  # no longer indexed: nothing left to extract
        try:
            found = await self._extract(ctx, eprint)
        except Failure as failure:
            raise RetryFailed(failure.message) from None
        async with ctx.batch() as conn:
            await _store(ctx, conn, eprint, found)

    async def _one(self, ctx: JobContext[CitationCheckpoint], eprint: PendingEprint) -> None:
        """Extract one eprint, committing its citations (or its failure, dead-lettered) with the checkpoint."""
        try:
            found = await self._extract(ctx, eprint)
        except Failure as failure:
            async with ctx.batch() as conn:
                await citations.mark_failed(conn, eprint.uri, eprint.cid, failure.message, now_stamp())
                await ctx.dead_letter(
                    conn,
                    error_type=failure.error_type,
                    message=failure.message,
                    context={"uri": eprint.uri, "did": eprint.did},
                    item=EprintItem(uri=eprint.uri),
                )
                ctx.progress.records_processed += 1
                ctx.checkpoint = CitationCheckpoint(after=eprint.uri)
            return
        async with ctx.batch() as conn:
            await _store(ctx, conn, eprint, found)
            ctx.checkpoint = CitationCheckpoint(after=eprint.uri)

    async def _extract(self, ctx: AnyContext, eprint: PendingEprint) -> list[Citation]:
        value = json.loads(eprint.value)
        document = value.get("document") if isinstance(value, dict) else None
        link = document.get("ref", {}).get("$link") if isinstance(document, dict) else None
        if not isinstance(link, str):
            return []  # an eprint without a document cites nothing we can read
        async with ctx.db.read() as conn:
            host = await index.repo_host(conn, eprint.did)
        if host is None or host[0] is None:
            raise Failure("no_pds", f"the PDS of {eprint.did} is not known")
        try:
            spool, _ = await ctx.services.upstream.get_blob(host[0], eprint.did, link, max_bytes=MAX_DOCUMENT_BYTES)
        except UpstreamError as exc:
            raise Failure("blob_fetch_failed", str(exc)[:500]) from None
        try:
            data = spool.read()
        finally:
            spool.close()
        mime = document.get("mimeType") if isinstance(document, dict) else None
        try:
            # parsing a PDF is CPU work: keep it off the event loop
            text = await asyncio.to_thread(extract_text, data, mime if isinstance(mime, str) else None)
        except DocumentError as exc:
            raise Failure(exc.code, str(exc)) from None
        return extract_citations(text)


async def _store(ctx: AnyContext, conn: Conn, eprint: PendingEprint, found: list[Citation]) -> None:
    """Replace what ``eprint`` cites, counted (inside the caller's batch)."""
    stored = await citations.replace(conn, eprint.uri, eprint.cid, found, now_stamp())
    ctx.progress.records_processed += 1
    ctx.count("citations", stored)
