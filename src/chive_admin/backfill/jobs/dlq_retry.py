"""dlq-retry: send dead-lettered items back through their own job's code path, one committed item at a time.

Started by retryDLQEntry (one entry) and retryAllDLQ (every entry, or those of one errorType); not a
triggerBackfill type. An item that succeeds leaves the queue; one that fails again stays, with its retry count
and message updated, and makes the operation ``partial``.
"""

from __future__ import annotations

from pydantic import Field

from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobParams, RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest.retry_record import StillInvalid
from chive_admin.store import dead_letters
from chive_admin.upstream.errors import UpstreamError


class DlqRetryParams(JobParams):
    entry_ids: tuple[int, ...] | None = Field(default=None, alias="entryIds")
    error_type: str | None = Field(default=None, alias="errorType")


class DlqRetry(Job[DlqRetryParams]):
    kind = job_types.DLQ_RETRY
    params_model = DlqRetryParams
    stages = ("retrying",)

    async def run(self, ctx: JobContext, params: DlqRetryParams) -> None:
        ctx.stage("retrying")
        if ctx.checkpoint is None:
            async with ctx.batch() as conn:
                chosen = list(params.entry_ids or await dead_letters.ids(conn, params.error_type))
                ctx.checkpoint = {"ids": chosen, "next": 0}
                ctx.progress.total_records = len(chosen)
        registry = ctx.services.engine.registry
        while ctx.checkpoint["next"] < len(ctx.checkpoint["ids"]):
            entry_id = ctx.checkpoint["ids"][ctx.checkpoint["next"]]
            async with ctx.db.read() as conn:
                entry = await dead_letters.get(conn, entry_id)
            failure: str | None = None
            if entry is not None:  # else dismissed meanwhile
                job = registry.job(entry.job_type)
                try:
                    if job is None:
                        raise RetryFailed(f"{entry.job_type} jobs do not run on this server")
                    await job().retry_item(ctx, entry.item)
                except (RetryFailed, StillInvalid, UpstreamError) as exc:
                    failure = str(exc)[:500] or type(exc).__name__
            async with ctx.batch() as conn:
                if entry is not None and failure is None:
                    await dead_letters.remove(conn, entry_id)
                elif entry is not None and failure is not None:
                    await dead_letters.retried_and_failed(conn, entry_id, failure, now_stamp())
                    ctx.progress.records_failed += 1
                ctx.checkpoint = {**ctx.checkpoint, "next": ctx.checkpoint["next"] + 1}
