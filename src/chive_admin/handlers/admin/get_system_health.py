"""pub.chive.admin.getSystemHealth: a live probe of the database plus its last integrity check, and each firehose
source this process consumes (one disconnected or lagging past its bound makes the status ``degraded``)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_system_health as api
from chive_admin.clock import epoch_ms_stamp, now_ms_stamp
from chive_admin.handlers.call import Call
from chive_admin.live import status as live_status
from chive_admin.live.indexer import LiveIndexer
from chive_admin.store import probes
from chive_admin.telemetry.health import process_facts

#: a probe slower than this marks the database degraded: it answers, but requests will queue behind it
SLOW_PROBE_MS = 250
#: less free disk than this marks the database degraded: writes will soon fail (SQLITE_FULL) and backfills pause
LOW_DISK_BYTES = 64 * 1024 * 1024


async def handle(call: Call[api.Params, None]) -> api.Output:
    db = call.services.db
    async with db.read() as conn:
        probe = await probes.probe(conn)
    integrity = await call.services.integrity.current()
    intact = integrity is None or integrity.ok
    storage = await db.storage_facts()
    schema = await db.schema_version()
    low_disk = storage.free_bytes is not None and storage.free_bytes < LOW_DISK_BYTES
    firehose = [_source(live) for live in call.services.live_sources()]
    if not probe.ok or not intact:
        status = "unhealthy"
    elif probe.latency_ms > SLOW_PROBE_MS or low_disk or not all(source.healthy for source in firehose):
        status = "degraded"
    else:
        status = "healthy"
    error = probe.error if not probe.ok else (None if intact else "integrity check failed")
    return api.Output(
        status=status,
        databases=[
            api.DatabaseHealth(
                name=storage.backend,
                healthy=probe.ok and intact,
                latency_ms=round(probe.latency_ms),
                error=error,
                size_bytes=storage.size_bytes,
                wal_bytes=storage.wal_bytes,
                disk_free_bytes=storage.free_bytes,
                schema_version=schema,
                integrity=None if integrity is None else "ok" if integrity.ok else "failed",
                integrity_checked_at=None if integrity is None else integrity.checked_at,
                integrity_check_ms=None if integrity is None else round(integrity.duration_ms),
            )
        ],
        uptime=process_facts().uptime_s,
        timestamp=now_ms_stamp(),
        firehose=firehose or None,
    )


def _source(live: LiveIndexer) -> api.FirehoseSource:
    flow = live.stats.flow
    now = live.clock()
    lag = flow.lag(now)
    problem = live_status.problem(live, now)
    return api.FirehoseSource(
        url=live.source,
        connected=flow.connected,
        healthy=problem is None,
        since=epoch_ms_stamp(flow.since),
        lag_ms=None if lag is None else round(lag * 1000),
        problem=problem,
    )
