"""pub.chive.metrics.recordDwellTime: the time spent on a result of a recorded search impression (once per result).

``success`` is false for a repeat of a dwell time already counted.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.metrics import record_dwell_time as api
from chive_admin.handlers.call import Call


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    body = call.input
    counted = await call.services.engagement.search_event(body.impression_id, "dwell", body.uri, body.dwell_time_ms)
    return api.Output(success=counted)
