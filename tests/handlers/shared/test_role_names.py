"""Role names: only Chive's known roles may be granted or revoked; a typo is refused, never silently stored."""

from __future__ import annotations

import pytest

from chive_admin.auth.roles import ROLES
from chive_admin.handlers.shared.role_names import checked_role
from chive_admin.xrpc.errors import XRPCError


@pytest.mark.parametrize("role", ROLES)
def test_a_known_role_passes(role: str) -> None:
    assert checked_role(role) == role


@pytest.mark.parametrize("role", ["Admin", "admins", "superuser", "", "admin "])
def test_anything_else_is_an_invalid_request_listing_the_roles(role: str) -> None:
    with pytest.raises(XRPCError) as caught:
        checked_role(role)
    assert (caught.value.status, caught.value.error) == (400, "InvalidRequest")
    assert caught.value.message == f"Unknown role {role!r}; expected one of {', '.join(ROLES)}"
