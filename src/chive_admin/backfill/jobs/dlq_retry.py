"""dlq-retry: send dead-lettered items back through their own job's code path, one committed item at a time.

Started by retryDLQEntry (one entry) and retryAllDLQ (every entry, or those of one errorType); not a
triggerBackfill type. An item that succeeds leaves the queue; one that fails again stays, with its retry count
and message updated, and makes the operation ``partial``.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Checkpoint, Job, JobParams, RetryFailed
from chive_admin.clock import now_stamp
from chive_admin.ingest.retry_record import StillInvalid
from chive_admin.store import dead_letters
from chive_admin.store.dead_letters import DeadLetter
from chive_admin.upstream.errors import UpstreamError


class DlqRetryParams(JobParams):
    entry_ids: tuple[int, ...] | None = Field(default=None, alias="entryIds")
    error_type: str | None = Field(default=None, alias="errorType")


class DlqRetryCheckpoint(Checkpoint):
    """The entries chosen when the retry began, and the index of the next one to retry."""

    # the previous version's citation retries added their own "after" to it: read past, dropped at the next commit
    model_config = ConfigDict(frozen=True, extra="ignore")

    ids: tuple[int, ...]
    next: int = 0

    @property
    def entry_id(self) -> int | None:
        """The next entry to retry; ``None`` once every chosen entry was."""
        return self.ids[self.next] if self.next < len(self.ids) else None

    def advanced(self) -> DlqRetryCheckpoint:
        return self.model_copy(update={"next": self.next + 1})


class DlqRetry(Job[DlqRetryParams, DlqRetryCheckpoint]):
    kind = job_types.DLQ_RETRY
    params_model = DlqRetryParams
    checkpoint_model = DlqRetryCheckpoint
    stages = ("retrying",)

    async def run(self, ctx: JobContext[DlqRetryCheckpoint], params: DlqRetryParams) -> None:
        ctx.stage("retrying")
        if ctx.checkpoint is None:
            async with ctx.batch() as conn:
                chosen = tuple(params.entry_ids or await dead_letters.ids(conn, params.error_type))
                ctx.checkpoint = DlqRetryCheckpoint(ids=chosen)
                ctx.progress.total_records = len(chosen)
        while (entry_id := ctx.checkpoint.entry_id) is not None:
            async with ctx.db.read() as conn:
                entry = await dead_letters.get(conn, entry_id)
            failure = None if entry is None else await _retry(ctx, entry)  # ``None``: dismissed meanwhile
            async with ctx.batch() as conn:
                if entry is not None and failure is None:
                    await dead_letters.remove(conn, entry_id)
                elif entry is not None and failure is not None:
                    await dead_letters.retried_and_failed(conn, entry_id, failure, now_stamp())
                    ctx.progress.records_failed += 1
                ctx.checkpoint = ctx.checkpoint.advanced()


async def _retry(ctx: JobContext[DlqRetryCheckpoint], entry: DeadLetter) -> str | None:
    """Send ``entry`` back through its own job: ``None`` when it went through, else why it failed again."""
    job = ctx.services.engine.registry.job(entry.job_type)
    try:
        if job is None:
            raise RetryFailed(f"{entry.job_type} jobs do not run on this server")
        await job().retry_item(ctx, job.read_item(entry.item))
    except (RetryFailed, StillInvalid, UpstreamError) as exc:
        return str(exc)[:500] or type(exc).__name__
    return None
