"""pub.chive.admin.getFirehoseStatus: the live indexer's committed position, the dead-letter total, and each source.

``cursor`` is the last sequence whose effects are committed (read from the database, not from memory: another
process may be the one consuming). The lexicon has one cursor: with a relay (``--firehose-url``) it is the relay's;
with only the registry's PDSes (``--firehose-pdses``) the lowest of their cursors (the PDS least far along); with
neither, the lowest of whatever cursors the database holds. Absent until a first batch commits. ``dlqCount`` is the
total listDLQEntries reports.
``sources`` (ours) is what this process sees of each source it consumes: connection, committed cursor, lag, rate.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_firehose_status as api
from chive_admin.clock import epoch_ms_stamp, now_ms_stamp
from chive_admin.handlers.call import Call
from chive_admin.live import status
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import dead_letters, firehose_cursors


async def handle(call: Call[api.Params, None]) -> api.Output:
    settings = call.services.settings
    live = call.services.live_sources()
    async with call.services.db.read() as conn:
        if settings.firehose_url:
            cursor = await firehose_cursors.get(conn, settings.firehose_url)
        elif settings.firehose_pdses:
            cursor = await firehose_cursors.lowest_of_pdses(conn)
        else:
            cursor = await firehose_cursors.lowest(conn)
        total = await dead_letters.count(conn)
        cursors = [await firehose_cursors.get(conn, indexer.source) for indexer in live]
    return api.Output(
        cursor=None if cursor is None else str(cursor),
        dlq_count=total,
        timestamp=now_ms_stamp(),
        sources=[_source(indexer, held) for indexer, held in zip(live, cursors, strict=True)] or None,
    )


def _source(live: LiveIndexer, cursor: int | None) -> api.Source:
    flow = live.stats.flow
    now = live.clock()
    lag = flow.lag(now)
    return api.Source(
        url=live.source,
        connected=flow.connected,
        since=epoch_ms_stamp(flow.since) or now_ms_stamp(),
        cursor=None if cursor is None else str(cursor),
        lag_ms=None if lag is None else round(lag * 1000),
        events_last_minute=flow.events_last_minute(now),
        newest_event_at=epoch_ms_stamp(flow.newest_event_at),
        applied_event_at=epoch_ms_stamp(flow.applied_event_at),
        problem=status.problem(live, now),
    )
