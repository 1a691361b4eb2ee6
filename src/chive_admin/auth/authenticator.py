"""The authenticator of every admin route: ``Authorization: Bearer`` with an API key or a service-auth JWT."""

from __future__ import annotations

import logging
import re

from starlette.requests import Request

from chive_admin.auth.api_keys import PREFIX, ApiKeyStore
from chive_admin.auth.principal import Principal
from chive_admin.auth.roles import RoleBook
from chive_admin.auth.service_jwt import ServiceJwtVerifier, TokenRefused
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError

log = logging.getLogger(__name__)

#: a service-auth JWT is a few hundred bytes; anything this long is not a credential of ours
MAX_TOKEN_CHARS = 4096
#: visible ASCII only: what both JWTs (base64url and dots) and API keys are made of
_TOKEN = re.compile(r"[!-~]+")


def _refuse(reason: str, message: str = "Authentication required") -> XRPCError:
    log.info("authentication refused: %s", reason)
    return XRPCError.authentication_required(message, reason=reason)


class AdminAuthenticator:
    def __init__(self, verifier: ServiceJwtVerifier, keys: ApiKeyStore, roles: RoleBook) -> None:
        self.verifier = verifier
        self.keys = keys
        self.roles = roles

    async def authenticate(self, request: Request, route: Route) -> Principal:
        headers = request.headers.getlist("authorization")
        if not headers:
            raise _refuse("no_credentials")
        if len(headers) > 1:
            raise _refuse("several_credentials", "Send one Authorization header")
        scheme, _, token = headers[0].partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            raise _refuse("not_bearer", "Use the Bearer scheme")
        if not token:
            raise _refuse("empty_token")
        if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
            raise _refuse("malformed")
        if token.startswith(PREFIX):
            owner = await self.keys.owner(token)
            if owner is None:
                raise _refuse("unknown_key", "Unknown or revoked API key")
            return Principal(owner.did, "api-key", await self.roles.roles_of(owner.did), owner.key_id)
        try:
            verified = await self.verifier.verify(token, route.nsid)
        except TokenRefused as exc:
            log.info("service token refused: %s (issuer %s)", exc.reason, exc.issuer)
            raise XRPCError.authentication_required("Invalid service-auth token", reason=exc.reason) from None
        return Principal(verified.issuer, "service-jwt", await self.roles.roles_of(verified.issuer))
