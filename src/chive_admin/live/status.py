"""What the server reports of a live source: whether it makes the server degraded, and its Prometheus figures.

A source is a problem when it has been disconnected for more than ``FIREHOSE_DOWN_DEGRADED_S`` or the index lags it
by more than ``FIREHOSE_LAG_DEGRADED_S`` (both in :mod:`chive_admin.settings`). A short disconnection is no problem:
a source that closes the stream (a deploy, ``ConsumerTooSlow``) is redialled within the backoff, from the cursor.
"""

from __future__ import annotations

from chive_admin.live.indexer import LiveIndexer
from chive_admin.settings import FIREHOSE_DOWN_DEGRADED_S, FIREHOSE_LAG_DEGRADED_S
from chive_admin.telemetry.metrics import SourceFigures


def problem(live: LiveIndexer, now: float) -> str | None:
    """Why ``live``'s source makes the server degraded at ``now``; ``None`` when it does not."""
    flow = live.stats.flow
    down = now - flow.since
    if not flow.connected and down > FIREHOSE_DOWN_DEGRADED_S:
        return f"disconnected for {down:.0f} s (more than {FIREHOSE_DOWN_DEGRADED_S} s)"
    lag = flow.lag(now)
    if lag is not None and lag > FIREHOSE_LAG_DEGRADED_S:
        return f"the index lags the source by {lag:.0f} s (more than {FIREHOSE_LAG_DEGRADED_S} s)"
    return None


def figures(live: LiveIndexer) -> SourceFigures:
    stats = live.stats
    flow = stats.flow
    return SourceFigures(
        source=live.source,
        connected=flow.connected,
        events=dict(flow.events),
        commits={
            "applied": stats.applied,
            "replayed": stats.replayed,
            "ignored": stats.ignored,
            "resynced": stats.resyncs,
            "refused": stats.refused,
            # from a PDS that does not host the repository
            "foreign": stats.foreign,
            # held while a did-sync of the repository ran
            "held": stats.held,
        },
        records={"written": stats.records_written, "deleted": stats.records_deleted},
        dead_lettered=stats.dead_lettered,
        frames_refused={"undecodable": stats.undecodable, "too_large": stats.too_large},
        lag_seconds=flow.lag(live.clock()),
        cursor=stats.cursor,
        reconnects=flow.reconnects,
    )
