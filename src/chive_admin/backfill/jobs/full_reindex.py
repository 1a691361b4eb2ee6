"""full-reindex: rebuild the search index into the shadow table in batches, then swap it live in one transaction.

Search keeps answering from the old index until the swap; a cancel abandons the shadow table and leaves the live
index as it was. Eprints ingested meanwhile reach both tables (see store/search.py), so the swap loses none.
"""

from __future__ import annotations

from pydantic import Field

from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Checkpoint, Job, JobParams
from chive_admin.clock import now_stamp
from chive_admin.store import search

DEFAULT_BATCH = 500


class FullReindexParams(JobParams):
    batch_size: int = Field(default=DEFAULT_BATCH, alias="batchSize", ge=1, le=10_000)


class ReindexCheckpoint(Checkpoint):
    """The shadow table holds every visible eprint up to ``after`` (in URI order)."""

    after: str = ""


class FullReindex(Job[FullReindexParams, ReindexCheckpoint]):
    kind = job_types.FULL_REINDEX
    params_model = FullReindexParams
    checkpoint_model = ReindexCheckpoint
    stages = ("building", "swapping")

    async def on_cancel(self, ctx: JobContext[ReindexCheckpoint]) -> None:
        async with ctx.db.write() as conn:
            await search.abandon_rebuild(conn)

    async def run(self, ctx: JobContext[ReindexCheckpoint], params: FullReindexParams) -> None:
        batch_size = params.batch_size
        ctx.stage("building")
        async with ctx.batch() as conn:
            table = await search.begin_rebuild(conn)  # a resumed rebuild keeps its table and what it holds
            ctx.progress.total_records = await search.visible_eprints(conn)
            if ctx.checkpoint is None:
                ctx.checkpoint = ReindexCheckpoint()
        while True:
            async with ctx.batch() as conn:
                docs = await search.eprints_after(conn, ctx.checkpoint.after, batch_size)
                if docs:
                    await search.fill(conn, table, docs)
                    ctx.progress.records_processed += len(docs)
                    ctx.checkpoint = ReindexCheckpoint(after=docs[-1].uri)
            if len(docs) < batch_size:
                break
        ctx.stage("swapping")
        async with ctx.batch() as conn:
            await search.finish_rebuild(conn, now_stamp())
            ctx.progress.total_records = ctx.progress.records_processed
        # the old index's pages back to the file system, a few MB a transaction so that ingest never waits long
        more = True
        while more:
            async with ctx.db.write() as conn:
                more = await search.reclaim_free_pages(conn)
