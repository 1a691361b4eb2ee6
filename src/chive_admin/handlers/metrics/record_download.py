"""pub.chive.metrics.recordDownload: count a download of an indexed eprint, once per downloader and hour."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.metrics import record_download as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.engagement import count


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    await count(call, "download", call.input.uri, call.input.viewer_did)
    return api.Output(success=True)
