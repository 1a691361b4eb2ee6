"""pub.chive.admin.listDLQEntries: the dead-letter queue in queue order (positions are the ``index`` of the
retry and dismiss methods)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_dlq_entries as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.present import present
from chive_admin.store import dead_letters


def entry_view(entry: dead_letters.DeadLetter) -> api.DlqEntry:
    context = entry.context
    return present(
        api.DlqEntry,
        id=str(entry.id),
        uri=context.get("uri"),
        did=context.get("did"),
        errorType=entry.error_type,
        errorMessage=entry.message,
        retryCount=entry.retry_count,
        createdAt=entry.created_at,
        lastRetryAt=entry.last_retry_at,
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        entries, total = await dead_letters.page(conn, call.params.limit, call.params.offset)
    return api.Output(entries=[entry_view(e) for e in entries], total=total)
