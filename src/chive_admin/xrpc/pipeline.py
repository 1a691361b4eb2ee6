"""The request pipeline of one XRPC method: method → params → auth → input → handler → output.

Assembled once per route when the app is built (as the reference xrpc-server does), so a request pays only for
the steps its method has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from chive_admin.auth.policy import authorize
from chive_admin.lex import Route
from chive_admin.xrpc.body import parse_input, read_capped
from chive_admin.xrpc.call import Call, Handler
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.params import parse_params
from chive_admin.xrpc.responses import model_response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pipeline:
    route: Route
    handler: Handler | None
    max_body_bytes: int

    @property
    def http_method(self) -> str:
        return "GET" if self.route.kind == "query" else "POST"

    async def __call__(self, request: Request) -> Response:
        route = self.route
        method = "GET" if request.method == "HEAD" else request.method
        if method != self.http_method:
            raise XRPCError.invalid_request(f"Incorrect HTTP method ({request.method}); expected {self.http_method}")
        params = parse_params(request.query_params.multi_items(), route.param_specs, route.params)
        services = request.app.state.services
        principal = await services.authenticator.authenticate(request, route)
        authorize(principal, route)
        if route.kind == "procedure":
            body = await parse_input(request, route.input, route.input_encoding, self.max_body_bytes)
        else:
            if await read_capped(request, self.max_body_bytes):
                raise XRPCError.invalid_request("A query takes no request body")
            body = None
        if self.handler is None:
            raise XRPCError.not_implemented(f"{route.nsid} is not implemented yet")
        result = await self.handler(Call(params, body, principal, services, request))
        if route.output is None:
            return Response(status_code=200)
        if not isinstance(result, route.output):
            log.error("handler of %s returned %s, not %s", route.nsid, type(result).__name__, route.output.__name__)
            raise XRPCError.internal()
        return model_response(result)
