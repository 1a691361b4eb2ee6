"""pub.chive.admin.assignRole: grant a role (idempotent)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import assign_role as api
from chive_admin.clock import now_stamp
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.role_names import checked_role
from chive_admin.store import roles as roles_store


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    role = checked_role(call.input.role)
    call.note.target = call.input.did
    async with call.services.db.write() as conn:
        new = await roles_store.grant(conn, call.input.did, role, call.principal.did, now_stamp())
    call.services.roles.changed(call.input.did)
    call.note.detail = f"{role} granted" if new else f"{role} already held"
    return api.Output(success=True)
