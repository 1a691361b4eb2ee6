"""pub.chive.admin.retryAllDLQ: retry every entry (or every entry of one errorType) as one dlq-retry operation."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import retry_all_dlq as api
from chive_admin.backfill.jobs.dlq_retry import DlqRetryParams
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.triggering import enqueue
from chive_admin.store import dead_letters


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    async with call.services.db.read() as conn:
        chosen = await dead_letters.ids(conn, call.input.error_type)
    if not chosen:
        return api.Output(retried_count=0)
    # the ids are fixed now: entries arriving later are not part of this retry
    await enqueue(call, "dlq-retry", DlqRetryParams(entry_ids=tuple(chosen)))
    return api.Output(retried_count=len(chosen))
