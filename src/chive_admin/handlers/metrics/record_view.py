"""pub.chive.metrics.recordView: count a view of an indexed eprint, once per viewer and hour."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.metrics import record_view as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.engagement import count


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    await count(call, "view", call.input.uri, call.input.viewer_did)
    return api.Output(success=True)
