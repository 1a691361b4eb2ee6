"""revokeRole: take a role away (idempotent), in effect at once; a bootstrap admin stays admin, so the API can
never lock every admin out."""

from __future__ import annotations

from support.admin_api import BOOTSTRAP_ADMIN, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import revoke_role
from chive_admin.clock import now_stamp
from chive_admin.store import audit as audit_store
from chive_admin.store import roles as roles_store
from chive_admin.store.audit import AuditEntry

METHOD = ids.PUB_CHIVE_ADMIN_REVOKE_ROLE
STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
OTHER = "did:plc:someoneelse000000000000000"


async def notes(api: Api) -> list[tuple[str | None, str | None]]:
    await api.services.audit.flush()
    async with api.services.db.read() as conn:
        page = await audit_store.audit_page(conn, limit=20, before_id=None, actor_did=BOOTSTRAP_ADMIN)
    entries: list[AuditEntry] = [e for e in page.entries if e.method == METHOD]
    return [(e.target, e.detail) for e in reversed(entries)]


async def test_a_revoked_admin_is_refused_at_once_and_a_repeat_changes_nothing(keyed: Api) -> None:
    admin, other = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(OTHER)
    async with keyed.services.db.write() as conn:
        await roles_store.grant(conn, OTHER, "admin", BOOTSTRAP_ADMIN, now_stamp())
    assert (await keyed.get(STATUS, headers=other)).status_code == 200
    for _ in range(2):
        output = answer(await keyed.post(METHOD, {"did": OTHER, "role": "admin"}, headers=admin), revoke_role.Output)
        assert output.success is True
    refusal(await keyed.get(STATUS, headers=other), 403, "AdminRequired")
    assert await notes(keyed) == [(OTHER, "admin revoked"), (OTHER, "admin was not held")]


async def test_a_bootstrap_admin_stays_admin(keyed: Api) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    answer(await keyed.post(METHOD, {"did": BOOTSTRAP_ADMIN, "role": "admin"}, headers=admin), revoke_role.Output)
    assert (await keyed.get(STATUS, headers=admin)).status_code == 200
    [(target, detail)] = await notes(keyed)
    assert target == BOOTSTRAP_ADMIN
    assert detail == "admin was not held (still admin: bootstrap admins come from --admin-did)"


async def test_an_unknown_role_is_refused(keyed: Api) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    response = await keyed.post(METHOD, {"did": OTHER, "role": "root"}, headers=admin)
    assert "Unknown role 'root'" in refusal(response, 400, "InvalidRequest")
