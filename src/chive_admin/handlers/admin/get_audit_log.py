"""pub.chive.admin.getAuditLog: the audit trail, newest first, with a stable cursor (entry ids only grow).

Only calls made by an identified caller are listed (see :func:`chive_admin.store.audit_store.audit_page`)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import get_audit_log as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.present import present
from chive_admin.store import audit as audit_store
from chive_admin.store.audit import AuditEntry
from chive_admin.xrpc.params import id_cursor


def _details(entry: AuditEntry) -> str:
    parts = [f"{entry.outcome} {entry.status}"]
    if entry.reason:
        parts.append(f"reason={entry.reason}")
    if entry.via:
        parts.append(f"via={entry.via}" + (f":{entry.key_id}" if entry.key_id else ""))
    if entry.detail:
        parts.append(entry.detail)
    if entry.client_ip:
        parts.append(f"ip={entry.client_ip}")
    return "; ".join(parts)


def _view(entry: AuditEntry) -> api.AuditEntry:
    return present(
        api.AuditEntry,
        id=str(entry.id),
        action=entry.method,
        actorDid=entry.actor_did,
        targetUri=entry.target,
        details=_details(entry),
        timestamp=entry.at,
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    before_id = id_cursor(call.params.cursor)
    await call.services.audit.flush()  # the calls before this one are in the answer
    async with call.services.db.read() as conn:
        page = await audit_store.audit_page(
            conn, limit=call.params.limit, before_id=before_id, actor_did=call.params.actor_did
        )
    last = page.entries[-1].id if page.entries else None
    return api.Output(
        entries=[_view(e) for e in page.entries],
        total=page.total,
        cursor=str(last) if page.more and last is not None else None,
    )
