"""pub.chive.admin.getUserDetail: one account's counts, profile name, roles and first-seen time; ``NotFound`` for a
DID we hold nothing visible of."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_user_detail as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.user_details import user_details
from chive_admin.xrpc.errors import XRPCError


async def handle(call: Call[api.Params, None]) -> api.Output:
    found = await user_details(call.services, [call.params.did])
    if not found:
        raise XRPCError.declared("NotFound", "no account with this DID is in the index")
    return found[0]
