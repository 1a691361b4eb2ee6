"""pub.chive.admin.getActivityCorrelation: activity intents of the last 24 hours per category and UTC hour logged.

An intent is confirmed when its record was written to (or, for a delete, removed from) the index within an hour of
being logged, by any write path; failed by markFailed; timed out when still pending after the hour; else pending.
``confirmationRate`` is confirmed over all, in basis points; latencies (from logged to indexed) are in microseconds,
the mean and the 95th percentile by nearest rank, left out where nothing was confirmed.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_activity_correlation as api
from chive_admin.clock import micros, now_ms_stamp
from chive_admin.engagement import analytics
from chive_admin.handlers.call import Call
from chive_admin.store import activity

HOURS = 24


async def handle(call: Call[api.Params, None]) -> api.Output:
    now = call.services.activity.clock()
    first_hour = analytics.hour_of(now) - HOURS + 1
    async with call.services.db.read() as conn:
        rows = await activity.correlation(conn, first_hour, micros(now))
    return api.Output(
        metrics=[
            api.CorrelationMetric(
                category=row.category,
                hour=analytics.hour_stamp(row.hour),
                total_activities=row.total,
                confirmed=row.confirmed,
                failed=row.failed,
                timeout=row.timeout,
                pending=row.pending,
                confirmation_rate=row.confirmed * 10_000 // row.total,
                avg_latency=row.avg_latency,
                p95_latency=row.p95_latency,
            )
            for row in rows
        ],
        timestamp=now_ms_stamp(),
    )
