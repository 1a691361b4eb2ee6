"""pub.chive.metrics.recordSearchClick: count a click on a result of a recorded search impression (once per result).

``success`` is false for a repeat of a click already counted.
"""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.metrics import record_search_click as api
from chive_admin.handlers.call import Call


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    body = call.input
    return api.Output(success=await call.services.engagement.search_event(body.impression_id, "click", body.uri))
