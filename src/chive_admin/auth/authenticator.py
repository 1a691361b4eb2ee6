"""The authenticator of every admin route: ``Authorization: Bearer`` with an API key or a service-auth JWT."""

from __future__ import annotations

import logging
import math
import re

from starlette.requests import Request

from chive_admin.auth.api_keys import PREFIX, ApiKeyStore
from chive_admin.auth.identity import ResolutionShed
from chive_admin.auth.policy import permits
from chive_admin.auth.principal import Principal
from chive_admin.auth.replay import ReplayFull
from chive_admin.auth.roles import RoleBook
from chive_admin.auth.service_jwt import ServiceJwtVerifier, TokenRefused
from chive_admin.auth.throttle import FailureThrottle
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
    """Who is calling. A service-auth token is read (no I/O), then the issuer's roles are looked up: an issuer that
    holds a role is resolved in the vouched lane, any other out of the budget for strangers; and its jti is spent
    only once the caller is allowed the method, so tokens that end in 403 cost no replay memory."""

    def __init__(
        self,
        verifier: ServiceJwtVerifier,
        keys: ApiKeyStore,
        roles: RoleBook,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.verifier = verifier
        self.keys = keys
        self.roles = roles
        self.throttle = throttle or FailureThrottle()

    async def authenticate(self, request: Request, route: Route) -> Principal:
        address = request.client.host if request.client else None
        throttled = self.throttle.refusal(address)
        try:
            return await self._authenticate(request, route, throttled)
        except XRPCError as exc:
            if exc.status != 401:
                raise
            self.throttle.failed(address)
            if throttled is None:
                raise
            log.info("authentication refused (%s) from a throttled address", exc.reason)
            raise throttled from None

    async def _authenticate(self, request: Request, route: Route, throttled: XRPCError | None) -> Principal:
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
        return await self._service_token(token, route, throttled)

    async def _service_token(self, token: str, route: Route, throttled: XRPCError | None) -> Principal:
        try:
            claims = self.verifier.read(token, route.nsid)
            roles = await self.roles.roles_of(claims.issuer)
            if throttled is not None and not roles:
                log.info("service token of %s refused unverified: its address is throttled", claims.issuer)
                raise throttled
            await self.verifier.check_signature(claims, vouched=bool(roles))
            principal = Principal(claims.issuer, "service-jwt", roles)
            if permits(principal, route):
                await self.verifier.spend(claims)
        except TokenRefused as exc:
            log.info("service token refused: %s (issuer %s)", exc.reason, exc.issuer)
            raise XRPCError.authentication_required("Invalid service-auth token", reason=exc.reason) from None
        except ResolutionShed as exc:
            log.info("service token not verified: %s", exc)
            raise _busy(
                "Too many unknown issuers to resolve; try again shortly", exc.retry_after, "issuer_shed"
            ) from None
        except ReplayFull as exc:
            log.warning("service token refused: %s", exc)
            raise _replay_full(exc) from None
        return principal


def _busy(message: str, retry_after: float, reason: str) -> XRPCError:
    busy = XRPCError.named("NotEnoughResources", message, headers={"Retry-After": str(math.ceil(retry_after))})
    busy.reason = reason
    return busy


def _replay_full(full: ReplayFull) -> XRPCError:
    """One issuer over its share is over a rate (429); the whole set full is the server out of room (503)."""
    if not full.per_issuer:
        return _busy("Too many unexpired tokens are in use; try again later", full.retry_after, "replay_full")
    limited = XRPCError.rate_limited(
        "Too many unexpired tokens of this issuer are in use; use shorter-lived ones",
        limit=full.limit,
        reset_in=full.retry_after,
    )
    limited.reason = "replay_full"
    return limited
