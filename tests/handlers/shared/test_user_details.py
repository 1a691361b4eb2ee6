"""userDetail answers: in the order asked, only accounts we hold something visible of, roles from the table plus the
bootstrap admins (one rule, the role book's)."""

from __future__ import annotations

from support.accounts import ADA, BEN, GONE, seed_accounts
from support.admin_api import BOOTSTRAP_ADMIN, Api

from chive_admin.handlers.shared.user_details import user_details
from chive_admin.store import index, roles
from chive_admin.store.index import IndexedRecord
from testnet import records


async def test_order_visibility_and_roles(keyed: Api) -> None:
    await seed_accounts(keyed.services.db)
    profile = IndexedRecord.from_parts(BOOTSTRAP_ADMIN, records.PROFILE, "self", "c", records.actor_profile())
    async with keyed.services.db.write() as conn:
        await index.upsert_repo(conn, BOOTSTRAP_ADMIN, "2026-02-01T00:00:00.000Z")
        await index.upsert_records(conn, [profile], "t")
        await roles.grant(conn, BOOTSTRAP_ADMIN, "moderator", None, "t")
    found = await user_details(keyed.services, [BEN, GONE, BOOTSTRAP_ADMIN, "did:plc:nobody", ADA])
    assert [(d.did, d.roles) for d in found] == [
        (BEN, []),
        (BOOTSTRAP_ADMIN, ["admin", "moderator"]),
        (ADA, ["moderator"]),
    ]
    assert await user_details(keyed.services, []) == []
