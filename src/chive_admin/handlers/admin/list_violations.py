"""pub.chive.admin.listViolations: violations of the local moderation record (``chive-admin moderation
violation``), newest first, resolved ones included (``resolvedAt`` says so)."""

from __future__ import annotations

from chive_admin._generated.models.pub.chive.admin import list_violations as api
from chive_admin.handlers.call import Call
from chive_admin.handlers.shared.present import present
from chive_admin.store import moderation


def _view(violation: moderation.Violation) -> api.Violation:
    return present(
        api.Violation,
        id=str(violation.id),
        did=violation.did,
        handle=violation.handle,
        type=violation.type,
        severity=violation.severity,
        description=violation.description,
        context=violation.context,
        subjectUri=violation.subject_uri,
        recordedBy=violation.recorded_by,
        createdAt=violation.created_at,
        resolvedAt=violation.resolved_at,
        resolvedBy=violation.resolved_by,
    )


async def handle(call: Call[api.Params, None]) -> api.Output:
    async with call.services.db.read() as conn:
        violations, total = await moderation.violations_page(conn, limit=call.params.limit, did=call.params.did)
    return api.Output(violations=[_view(v) for v in violations], total=total)
