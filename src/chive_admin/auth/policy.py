"""What each auth policy name (declared per route in codegen/policy.py) requires of the caller."""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError

POLICIES = frozenset({"admin"})


class Authenticator(Protocol):
    async def authenticate(self, request: Request, route: Route) -> Principal:
        """The caller, or ``XRPCError`` 401 when the request carries no valid credentials."""
        ...


def permits(principal: Principal, route: Route) -> bool:
    """Whether ``principal`` satisfies ``route.auth`` (a policy without a rule here permits nobody)."""
    return route.auth == "admin" and principal.is_admin


def authorize(principal: Principal, route: Route) -> None:
    """Raise 403 unless ``principal`` satisfies ``route.auth``."""
    if route.auth not in POLICIES:  # a policy name without a rule here must never mean "allowed"
        raise XRPCError.internal()
    if not permits(principal, route):
        raise XRPCError.named("AdminRequired", "This method requires the admin role")


async def authenticate_and_authorize(authenticator: Authenticator, request: Request, route: Route) -> Principal:
    """For the few plain-HTTP endpoints that borrow an admin method's policy (``/metrics``, the dashboard config)."""
    principal = await authenticator.authenticate(request, route)
    authorize(principal, route)
    return principal
