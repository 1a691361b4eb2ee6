"""assignRole: grant a role (idempotent), in effect at once for the grantee's next call, noted in the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from support.admin_api import BOOTSTRAP_ADMIN, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import assign_role
from chive_admin.store import audit as audit_store
from chive_admin.store import roles as roles_store

METHOD = ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE
STATUS = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
OTHER = "did:plc:someoneelse000000000000000"


async def test_a_granted_admin_is_admin_at_once_and_a_repeat_changes_nothing(keyed: Api) -> None:
    admin, other = await keyed.key_for(BOOTSTRAP_ADMIN), await keyed.key_for(OTHER)
    refusal(await keyed.get(STATUS, headers=other), 403, "AdminRequired")
    for _ in range(2):
        output = answer(await keyed.post(METHOD, {"did": OTHER, "role": "admin"}, headers=admin), assign_role.Output)
        assert output.success is True
    assert (await keyed.get(STATUS, headers=other)).status_code == 200
    async with keyed.services.db.read() as conn:
        grants = await roles_store.list_roles(conn)
    assert [(g.did, g.role, g.granted_by) for g in grants] == [(OTHER, "admin", BOOTSTRAP_ADMIN)]
    await keyed.services.audit.flush()
    async with keyed.services.db.read() as conn:
        page = await audit_store.audit_page(conn, limit=10, before_id=None, actor_did=BOOTSTRAP_ADMIN)
    notes = [(e.target, e.detail) for e in page.entries if e.method == METHOD]
    assert notes == [(OTHER, "admin already held"), (OTHER, "admin granted")]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"did": "not-a-did", "role": "admin"}, "did"),
        ({"did": OTHER, "role": "superuser"}, "Unknown role 'superuser'"),
        ({"did": OTHER}, "role: required"),
        ({"role": "admin"}, "did: required"),
        ({"did": OTHER, "role": "admin", "extra": 1}, "extra: unknown field"),
    ],
)
async def test_bad_requests_grant_nothing(keyed: Api, body: dict[str, Any], fragment: str) -> None:
    admin = await keyed.key_for(BOOTSTRAP_ADMIN)
    assert fragment in refusal(await keyed.post(METHOD, body, headers=admin), 400, "InvalidRequest")
    async with keyed.services.db.read() as conn:
        assert await roles_store.list_roles(conn) == []


async def test_only_an_admin_may_grant(keyed: Api) -> None:
    other = await keyed.key_for(OTHER)
    refusal(await keyed.post(METHOD, {"did": OTHER, "role": "admin"}, headers=other), 403, "AdminRequired")
    async with keyed.services.db.read() as conn:
        assert await roles_store.list_roles(conn) == []
