"""pub.chive.admin.getTrendingVelocity: visible eprints viewed in the window, fastest rising first.

``window`` 24h, 7d or 30d (whole UTC hours, ending with the last complete one) against a baseline of 7, 30 or 90
days ending with it; the arithmetic is :mod:`chive_admin.engagement.analytics`'. ``acceleration`` is left out when
the window before had no views in its baseline. The ranking is computed once an hour (the hundred fastest, of
which ``limit`` are answered; see :mod:`chive_admin.engagement.hourly_answers`).
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_trending_velocity as api
from chive_admin.engagement import analytics
from chive_admin.handlers.call import Call
from chive_admin.store import engagement
from chive_admin.xrpc.errors import XRPCError

#: eprints ranked once an hour: the lexicon's largest ``limit``
RANKED = 100


async def handle(call: Call[api.Params, None]) -> api.Output:
    hours = analytics.WINDOWS.get(call.params.window)
    if hours is None:
        raise XRPCError.invalid_request(f"window: expected one of {', '.join(analytics.WINDOWS)}")
    window, baseline = hours
    last_hour = analytics.hour_of(call.services.engagement.clock()) - 1

    async def ranked() -> list[engagement.Velocity]:
        async with call.services.db.read() as conn:
            return await engagement.trending(conn, last_hour, window, baseline, RANKED)

    rows = await call.services.hourly_answers.get(("trending", window), last_hour, ranked)
    items = []
    for row in rows[: call.params.limit]:
        trend = analytics.trend(row, window, baseline)
        items.append(
            api.VelocityEntry(
                uri=row.uri,
                title=row.title or "",
                author_did=row.submitted_by,
                velocity=trend.velocity,
                acceleration=trend.acceleration,
                daily_avg_current=trend.daily_avg_current,
                daily_avg_baseline=trend.daily_avg_baseline,
                views=row.views,
                downloads=row.downloads,
            )
        )
    return api.Output(items=items)
