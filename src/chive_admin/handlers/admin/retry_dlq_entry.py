"""pub.chive.admin.retryDLQEntry: send one entry back through its job, as a dlq-retry operation."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import retry_dlq_entry as api
from chive_admin.backfill.jobs.dlq_retry import DlqRetryParams
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.dlq_entry import at_index
from chive_admin.handlers.shared.triggering import enqueue


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    entry = await at_index(call.services.db, call.input.index)
    op = await enqueue(call, "dlq-retry", DlqRetryParams(entry_ids=(entry.id,)))
    return api.Output(success=True, message=f"Entry {entry.id} is being retried by operation {op.id}")
