"""pub.chive.admin.dismissDLQEntry: drop one entry from the dead-letter queue."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import dismiss_dlq_entry as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.dlq_entry import at_index
from chive_admin.store import dead_letters


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    entry = await at_index(call.services.db, call.input.index)
    call.note.target = str(entry.id)
    async with call.services.db.write() as conn:
        removed = await dead_letters.remove(conn, entry.id)
    if not removed:  # dismissed or retried by someone else between the lookup and now
        return api.Output(success=False, message=f"Entry {entry.id} had already left the queue")
    return api.Output(success=True, message=f"Entry {entry.id} ({entry.error_type}) dismissed")
