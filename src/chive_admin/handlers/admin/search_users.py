"""pub.chive.admin.searchUsers: accounts whose handle or DID starts with the query (case-insensitive, a leading ``@``
ignored), among those we hold something visible of; handle matches first, then DID matches."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import search_users as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.user_details import user_details
from chive_admin.store import users


async def handle(call: Call[api.Params, None]) -> api.Output:
    query = call.params.query.strip().removeprefix("@").lower()
    async with call.services.db.read() as conn:
        dids = await users.find(conn, query, call.params.limit)
    return api.Output(users=await user_details(call.services, dids))
