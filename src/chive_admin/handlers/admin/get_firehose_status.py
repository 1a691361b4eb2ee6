"""pub.chive.admin.getFirehoseStatus: the live indexer's committed position and the dead-letter total.

``cursor`` is the last sequence whose effects are committed (read from the database, not from memory: another
process may be the one consuming); with several sources it is the lowest of their cursors, the point from which all
of them are complete. Absent until a first batch commits. ``dlqCount`` is the total listDLQEntries reports.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_firehose_status as api
from chive_admin.clock import now_ms_stamp
from chive_admin.handlers.call import Call
from chive_admin.store import dead_letters, firehose_cursors


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        cursor = await firehose_cursors.lowest(conn)
        total = await dead_letters.count(conn)
    return api.Output(cursor=None if cursor is None else str(cursor), dlq_count=total, timestamp=now_ms_stamp())
