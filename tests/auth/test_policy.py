"""Auth policies: ``admin`` needs the admin role; a policy name without a rule fails closed, never open."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.requests import Request

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.policy import POLICIES, authenticate_and_authorize, authorize
from chive_admin.auth.principal import Principal
from chive_admin.lex import Route
from chive_admin.xrpc.errors import XRPCError

ROUTE = ROUTES[ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS]
ADMIN = Principal("did:plc:admin", "api-key", frozenset({"admin", "reader"}))
READER = Principal("did:plc:reader", "service-jwt", frozenset({"reader", "moderator"}))


def test_every_route_names_a_policy_with_a_rule() -> None:
    assert {route.auth for route in ROUTES.values()} <= POLICIES


def test_admin_needs_the_admin_role() -> None:
    authorize(ADMIN, ROUTE)
    with pytest.raises(XRPCError) as caught:
        authorize(READER, ROUTE)
    assert (caught.value.status, caught.value.error) == (403, "AdminRequired")


def test_an_unknown_policy_is_a_500_for_everyone() -> None:
    route: Route = dataclasses.replace(ROUTE, auth="public")
    for principal in (ADMIN, READER):
        with pytest.raises(XRPCError) as caught:
            authorize(principal, route)
        assert caught.value.status == 500


class Fixed:
    def __init__(self, principal: Principal | None) -> None:
        self.principal = principal

    async def authenticate(self, request: Request, route: Route) -> Principal:
        if self.principal is None:
            raise XRPCError.authentication_required()
        return self.principal


async def test_plain_http_endpoints_borrow_a_methods_policy() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/metrics", "headers": []})
    assert await authenticate_and_authorize(Fixed(ADMIN), request, ROUTE) == ADMIN
    for principal, status in ((READER, 403), (None, 401)):
        with pytest.raises(XRPCError) as caught:
            await authenticate_and_authorize(Fixed(principal), request, ROUTE)
        assert caught.value.status == status
