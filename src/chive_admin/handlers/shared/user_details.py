"""userDetail answers (searchUsers, getUserDetail): one account's counts, profile name, roles and first-seen time."""

from __future__ import annotations

from collections.abc import Sequence

from chive_admin._generated.models.pub.chive.admin import search_users as api
from chive_admin.services import Services
from chive_admin.store import users


async def user_details(services: Services, dids: Sequence[str]) -> list[api.UserDetail]:
    """The accounts of ``dids`` we hold something visible of, in the order given (a fixed number of queries)."""
    async with services.db.read() as conn:
        found = await users.accounts(conn, dids)
    return [_view(services, account) for account in found]


def _view(services: Services, account: users.Account) -> api.UserDetail:
    fields = {
        "did": account.did,
        "handle": account.handle,
        "displayName": account.display_name,
        "eprintCount": account.eprints,
        "reviewCount": account.reviews,
        "endorsementCount": account.endorsements,
        "roles": sorted(services.roles.effective(account.did, account.roles)),
        "createdAt": account.first_seen_at,
    }
    return api.UserDetail.model_validate({k: v for k, v in fields.items() if v is not None})
