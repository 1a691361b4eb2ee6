"""pub.chive.admin.rescanPDS: schedule a pds-scan of one host (or return the one already scheduled)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import rescan_pds as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared import triggering


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    await triggering.start(call, "pds-scan", {"pdsUrl": call.input.pds_url})
    return api.Output(success=True)
