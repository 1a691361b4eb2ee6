"""pub.chive.admin.listWarnings: warnings of the local moderation record (``chive-admin moderation warn``), newest
first; only active ones (neither expired nor revoked: the lexicon has no field to tell them apart)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_warnings as api
from chive_admin.clock import now_stamp
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.present import present
from chive_admin.store import moderation


def _view(warning: moderation.AccountWarning) -> api.WarningDef:
    return present(
        api.WarningDef,
        id=str(warning.id),
        did=warning.did,
        handle=warning.handle,
        reason=warning.reason,
        issuedBy=warning.issued_by,
        createdAt=warning.created_at,
        expiresAt=warning.expires_at,
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    params = call.params
    async with call.services.db.read() as conn:
        warnings, total = await moderation.warnings_page(conn, limit=params.limit, did=params.did, now=now_stamp())
    return api.Output(warnings=[_view(w) for w in warnings], total=total)
