"""pub.chive.admin.getSearchAnalytics: search impressions and result clicks recorded over the retention period.

Impressions come from our ``dev.chiveadmin.search.recordImpression``, clicks from ``pub.chive.metrics
.recordSearchClick`` (each result of an impression counted once).
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_search_analytics as api
from chive_admin.clock import now_ms_stamp
from chive_admin.handlers.call import Call
from chive_admin.store import engagement


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        totals = await engagement.search_totals(conn)
    return api.Output(total_searches=totals.impressions, total_clicks=totals.clicks, timestamp=now_ms_stamp())
