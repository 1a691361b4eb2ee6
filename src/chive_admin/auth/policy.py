"""What each auth policy name (declared per route in codegen/policy.py) requires of the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.auth.roles import METRICS_WRITER
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError

_RULES: Mapping[str, Callable[[Principal], bool]] = MappingProxyType(
    {
        "admin": lambda principal: principal.is_admin,
        # a metrics writer records and does nothing else; an admin may record too
        "metrics-writer": lambda principal: principal.is_admin or METRICS_WRITER in principal.roles,
        # any DID acting for itself with its own service-auth token (not a key someone holds for it): the handler
        # scopes what it touches to that DID
        "user": lambda principal: principal.via == "service-jwt",
    }
)
POLICIES = frozenset(_RULES)
#: policies whose allowed calls leave no audit entry: recording engagement events is no admin act, and an entry per
#: view would keep the raw events (and the viewers' addresses) that the rollups exist not to keep
UNAUDITED_WHEN_ALLOWED = frozenset({"metrics-writer"})

_REFUSALS: Mapping[str, str] = MappingProxyType(
    {
        "admin": "This method requires the admin role",
        "metrics-writer": "This method requires the metrics-writer or admin role",
        "user": "This method takes the user's own service-auth token",
    }
)


class Authenticator(Protocol):
    async def authenticate(self, request: Request, route: Route) -> Principal:
        """The caller, or ``XRPCError`` 401 when the request carries no valid credentials."""
        ...


def permits(principal: Principal, route: Route) -> bool:
    """Whether ``principal`` satisfies ``route.auth`` (a policy without a rule here permits nobody)."""
    rule = _RULES.get(route.auth)
    return rule is not None and rule(principal)


def authorize(principal: Principal, route: Route) -> None:
    """Raise 403 unless ``principal`` satisfies ``route.auth``."""
    if route.auth not in POLICIES:  # a policy name without a rule here must never mean "allowed"
        raise XRPCError.internal()
    if not permits(principal, route):
        raise XRPCError.named("AdminRequired", _REFUSALS[route.auth])


async def authenticate_and_authorize(authenticator: Authenticator, request: Request, route: Route) -> Principal:
    """For the few plain-HTTP endpoints that borrow an admin method's policy (``/metrics``, the dashboard config)."""
    principal = await authenticator.authenticate(request, route)
    authorize(principal, route)
    return principal
