"""A stand-in authenticator for the user-facing methods: ``Bearer jwt:<did>`` is that DID with its own service-auth
token (the real verification is tested in tests/auth and, with a real PDS, in tests/interop), ``Bearer admin`` an
admin's API key."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError
from support.auth import ADMIN_DID


def user(did: str) -> dict[str, str]:
    return {"Authorization": f"Bearer jwt:{did}"}


@dataclass
class UserTokens:
    async def authenticate(self, request: Request, route: Route) -> Principal:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer jwt:"):
            return Principal(did=header.removeprefix("Bearer jwt:"), via="service-jwt")
        if header == "Bearer admin":
            return Principal(did=ADMIN_DID, via="api-key", roles=frozenset({"admin"}))
        raise XRPCError.authentication_required()
