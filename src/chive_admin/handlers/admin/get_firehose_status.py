"""pub.chive.admin.getFirehoseStatus: the live indexer's committed position and the dead-letter total.

``cursor`` is the last sequence whose effects are committed (read from the database, not from memory: another
process may be the one consuming). The lexicon has one cursor: with a relay (``--firehose-url``) it is the relay's;
with only the registry's PDSes (``--firehose-pdses``) the lowest of their cursors (the PDS least far along); with
neither, the lowest of whatever cursors the database holds. Absent until a first batch commits. ``dlqCount`` is the
total listDLQEntries reports.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_firehose_status as api
from chive_admin.clock import now_ms_stamp
from chive_admin.handlers.call import Call
from chive_admin.store import dead_letters, firehose_cursors


async def handle(call: Call[api.Params, None]) -> api.Output:
    settings = call.services.settings
    async with call.services.db.read() as conn:
        if settings.firehose_url:
            cursor = await firehose_cursors.get(conn, settings.firehose_url)
        elif settings.firehose_pdses:
            cursor = await firehose_cursors.lowest_of_pdses(conn)
        else:
            cursor = await firehose_cursors.lowest(conn)
        total = await dead_letters.count(conn)
    return api.Output(cursor=None if cursor is None else str(cursor), dlq_count=total, timestamp=now_ms_stamp())
