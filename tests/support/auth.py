"""A stand-in authenticator for tests of the XRPC pipeline itself (the real one is tested in tests/auth)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError

ADMIN_DID = "did:plc:testadmin0000000000000000"
USER_DID = "did:plc:testuser00000000000000000"


def bearer(token: str) -> dict[str, str]:
    """The headers that present ``token`` (an API key, a service JWT, or one of ``FixedTokens``' words)."""
    return {"Authorization": f"Bearer {token}"}


#: the headers of ``FixedTokens``' admin, and of its user without the admin role
ADMIN = bearer("admin")
USER = bearer("user")


@dataclass
class FixedTokens:
    """``Bearer admin`` is an admin, ``Bearer user`` is not, anything else is refused."""

    async def authenticate(self, request: Request, route: Route) -> Principal:
        header = request.headers.get("authorization", "")
        if header == "Bearer admin":
            return Principal(did=ADMIN_DID, via="api-key", roles=frozenset({"admin"}))
        if header == "Bearer user":
            return Principal(did=USER_DID, via="api-key")
        raise XRPCError.authentication_required()
