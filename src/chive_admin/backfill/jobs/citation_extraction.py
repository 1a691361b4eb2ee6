"""citation-extraction: fetch an eprint's document blob from its PDS, read its text, and store what it cites.

One eprint (``uri``, re-extracted even if done) or every visible eprint whose current version was not extracted
yet, in URI order (the checkpoint). A document that cannot be read (corrupt or encrypted PDF, no text, unsupported
type) or fetched goes to the dead-letter queue and the op ends ``partial``; the eprint is marked so it is not
picked again until it changes or its entry is retried.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobParams, Refused, RetryFailed
from chive_admin.citations.extract import Citation, extract_citations
from chive_admin.citations.text import DocumentError, extract_text
from chive_admin.clock import now_stamp
from chive_admin.lex.formats import validate_at_uri
from chive_admin.store import citations, index
from chive_admin.store.citations import PendingEprint
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


class Failure(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class CitationExtraction(Job[CitationParams]):
    kind = job_types.CITATION_EXTRACTION
    params_model = CitationParams
    stages = ("extracting",)

    @classmethod
    async def admit(cls, params: CitationParams, services: JobServices) -> None:
        if params.uri is None:
            return
        async with services.db.read() as conn:
            found = await citations.eprint(conn, params.uri)
        if found is None:
            raise Refused(f"uri: {params.uri} is not an indexed pub.chive.eprint.submission")

    async def run(self, ctx: JobContext, params: CitationParams) -> None:
        ctx.stage("extracting")
        if params.uri is not None:
            async with ctx.db.read() as conn:
                one = await citations.eprint(conn, params.uri)
            ctx.progress.total_records = 1
            if one is not None:
                await self._one(ctx, one, dead_letter=True)
            return
        if ctx.checkpoint is None:
            async with ctx.batch() as conn:
                ctx.progress.total_records = await citations.count_pending(conn)
                ctx.checkpoint = {"after": ""}
        while True:
            async with ctx.db.read() as conn:
                batch = await citations.pending(conn, ctx.checkpoint["after"], ROUND)
            if not batch:
                return
            for eprint in batch:
                await self._one(ctx, eprint, dead_letter=True)

    async def retry_item(self, ctx: JobContext, item: Any) -> None:
        uri = item.get("uri") if isinstance(item, dict) else None
        async with ctx.db.read() as conn:
            eprint = await citations.eprint(conn, str(uri))
        if eprint is None:
            return  # no longer indexed: nothing left to extract
        await self._one(ctx, eprint, dead_letter=False)

    async def _one(self, ctx: JobContext, eprint: PendingEprint, *, dead_letter: bool) -> None:
        """Extract one eprint, committing its citations (or its failure) with the checkpoint."""
        try:
            found = await self._extract(ctx, eprint)
        except Failure as failure:
            if not dead_letter:
                raise RetryFailed(failure.message) from None
            async with ctx.batch() as conn:
                await citations.mark_failed(conn, eprint.uri, eprint.cid, failure.message, now_stamp())
                await ctx.dead_letter(
                    conn,
                    error_type=failure.error_type,
                    message=failure.message,
                    context={"uri": eprint.uri, "did": eprint.did},
                    item={"kind": "eprint", "uri": eprint.uri},
                )
                ctx.progress.records_processed += 1
                ctx.checkpoint = {**(ctx.checkpoint or {}), "after": eprint.uri}
            return
        async with ctx.batch() as conn:
            stored = await citations.replace(conn, eprint.uri, eprint.cid, found, now_stamp())
            ctx.progress.records_processed += 1
            ctx.count("citations", stored)
            ctx.checkpoint = {**(ctx.checkpoint or {}), "after": eprint.uri}

    async def _extract(self, ctx: JobContext, eprint: PendingEprint) -> list[Citation]:
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
