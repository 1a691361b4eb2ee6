"""Role names accepted by assignRole and revokeRole."""

from __future__ import annotations

from chive_admin.auth.roles import ROLES
from chive_admin.xrpc.errors import XRPCError


def checked_role(role: str) -> str:
    # knownValues are open in Lexicon, but a typo here would silently grant nothing anyone checks for
    if role not in ROLES:
        raise XRPCError.invalid_request(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role
