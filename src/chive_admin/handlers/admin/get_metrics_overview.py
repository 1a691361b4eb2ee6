"""pub.chive.admin.getMetricsOverview: the most viewed visible eprints of the last ``days`` days, and the period.

The period is the last ``days`` times 24 whole UTC hours, ending with the last complete one; its ten most viewed
eprints (then most downloaded, then by uri) with their title, submitter and the submitter's handle from the index,
computed once an hour (see :mod:`chive_admin.engagement.hourly_answers`).
``velocity`` is left out: getTrendingVelocity measures it, against a baseline this period does not have.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_metrics_overview as api
from chive_admin.engagement import analytics
from chive_admin.handlers.call import Call
from chive_admin.store import engagement

#: eprints listed
TOP = 10


async def handle(call: Call[api.Params, None]) -> api.Output:
    days = call.params.days
    last = analytics.hour_of(call.services.engagement.clock()) - 1
    first = last - days * 24 + 1

    async def ranked() -> list[engagement.EprintCounts]:
        async with call.services.db.read() as conn:
            return await engagement.top_eprints(conn, first, last, TOP)

    top = await call.services.hourly_answers.get(("overview", days), last, ranked)
    return api.Output(
        trending=[
            api.TrendingEprint(
                uri=row.uri,
                title=row.title or "",
                author_did=row.submitted_by,
                author_handle=row.handle,
                views=row.views,
                downloads=row.downloads,
            )
            for row in top
        ],
        period=api.PeriodInfo(
            days=days, start_date=analytics.hour_stamp(first), end_date=analytics.hour_stamp(last + 1)
        ),
    )
