"""pub.chive.activity.markFailed: the caller's latest pending intent on a record failed (its PDS write did);
400 NotFound when the caller has none there."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.activity import mark_failed as api
from chive_admin.handlers.call import Call


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    body = call.input
    await call.services.activity.mark_failed(call.principal.did, body.collection, body.rkey, body.error_code)
    return api.Output(success=True)
