"""pub.chive.admin.revokeRole: take a role away (idempotent). Bootstrap admins are configuration, not rows, so the
server always keeps them: revoking here can never lock every admin out."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import revoke_role as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.role_names import checked_role
from chive_admin.store import roles as roles_store


async def handle(call: Call[api.Params, api.Input]) -> api.Output:
    role = checked_role(call.input.role)
    did = call.input.did
    call.note.target = did
    async with call.services.db.write() as conn:
        removed = await roles_store.revoke(conn, did, role)
    call.services.roles.changed(did)
    bootstrap = role == "admin" and did in call.services.roles.bootstrap_admins
    call.note.detail = (f"{role} revoked" if removed else f"{role} was not held") + (
        " (still admin: bootstrap admins come from --admin-did)" if bootstrap else ""
    )
    return api.Output(success=True)
