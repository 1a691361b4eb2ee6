"""pub.chive.admin.getViewDownloadTimeSeries: views and downloads per UTC bucket, zero-filled, oldest first.

24 hourly, 30 daily or 12 weekly (Monday) buckets, the last one holding now; ``granularity`` defaults to ``day``.
Of one eprint with ``uri`` (an unknown uri has zero buckets), else summed over every eprint.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_view_download_time_series as api
from chive_admin.clock import now_ms_stamp
from chive_admin.engagement import analytics
from chive_admin.handlers.call import Call
from chive_admin.store import engagement
from chive_admin.xrpc.errors import XRPCError


async def handle(call: Call[api.Params, None]) -> api.Output:
    granularity = call.params.granularity or "day"
    if granularity not in analytics.BUCKETS:
        raise XRPCError.invalid_request(f"granularity: expected one of {', '.join(analytics.BUCKETS)}")
    now = call.services.engagement.clock()
    starts = analytics.bucket_starts(now, granularity)
    size, offset = analytics.bucketing(granularity)
    async with call.services.db.read() as conn:
        sums = await engagement.hourly_series(conn, call.params.uri, starts[0], analytics.hour_of(now), size, offset)
    return api.Output(
        buckets=[
            api.TimeSeriesBucket(timestamp=analytics.hour_stamp(start), views=views, downloads=downloads)
            for start, views, downloads in analytics.buckets(starts, sums)
        ],
        timestamp=now_ms_stamp(),
    )
