"""What recordView and recordDownload share: count the event, or 400 NotFound for a uri that is not an eprint."""

from __future__ import annotations

from typing import Any

from chive_admin.engagement.recorder import Recorded
from chive_admin.handlers.call import Call
from chive_admin.store.engagement import Kind
from chive_admin.xrpc.errors import XRPCError


async def count(call: Call[Any, Any], kind: Kind, uri: str, viewer_did: str | None) -> None:
    client = call.request.client
    outcome = await call.services.engagement.record(uri, kind, viewer_did, client.host if client else None)
    if outcome is Recorded.NOT_FOUND:
        raise XRPCError.declared("NotFound", f"{uri!r} is not an eprint of the index")
