"""The request pipeline of one XRPC method: method → params → auth → input → handler → output.

Assembled once per route when the app is built (as the reference xrpc-server does), so a request pays only for
the steps its method has.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from chive_admin.auth.policy import UNAUDITED_WHEN_ALLOWED, authorize
from chive_admin.auth.principal import Principal
from chive_admin.handlers.call import AuditNote, Call, Handler, audit_entry
from chive_admin.lex import Route
from chive_admin.settings import DEFAULT_CLIENT_TIMEOUT
from chive_admin.store.audit import AuditEntry
from chive_admin.store.db import is_storage_full, is_transient
from chive_admin.telemetry.metrics import AUTH_REFUSALS, observe_request
from chive_admin.xrpc.body import parse_input, read_capped
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.params import parse_params
from chive_admin.xrpc.responses import model_response

if TYPE_CHECKING:
    from chive_admin.services import Services

log = logging.getLogger(__name__)
#: one line per XRPC call (method, NSID, status, duration, actor; never credentials)
request_log = logging.getLogger("chive_admin.requests")
#: sent by a client's background refresh (the dashboard's polling): its successful calls are logged at DEBUG, so
#: an open dashboard does not fill the INFO log; its refusals and failures stay INFO (and every call is audited)
POLL_HEADER = "chive-admin-poll"


@dataclass(frozen=True)
class Pipeline:
    route: Route
    handler: Handler | None
    max_body_bytes: int
    #: seconds the whole request body may take to arrive
    body_seconds: float = DEFAULT_CLIENT_TIMEOUT

    @property
    def http_method(self) -> str:
        return "GET" if self.route.kind == "query" else "POST"

    async def __call__(self, request: Request) -> Response:
        """Answer the call, and record it in the audit trail whatever the outcome."""
        state = _CallState()
        started = time.perf_counter()
        try:
            response = await self._answer(request, request.app.state.services, state)
        except XRPCError as exc:
            outcome = "refused" if exc.status in (401, 403) else "failed"
            self._done(request, state, outcome, exc.status, exc.reason or exc.error, started)
            if exc.status == 401:
                AUTH_REFUSALS.labels(exc.reason or "unknown").inc()
            raise
        except Exception as exc:
            if is_transient(exc):  # the write rolled back whole; the caller may try again once it passes
                if is_storage_full(exc):
                    log.error("%s: storage is full; the call's write was rolled back", self.route.nsid)
                    why = "The server's storage is full; try again later"
                else:  # the server reconnects by itself
                    log.error("%s: %s", self.route.nsid, exc)
                    why = "The server's database cannot be reached; try again later"
                busy = XRPCError.named("NotEnoughResources", why)
                self._done(request, state, "failed", busy.status, busy.error, started)
                raise busy from None
            self._done(request, state, "failed", 500, "InternalServerError", started)
            raise
        self._done(request, state, "allowed", response.status_code, None, started)
        return response

    def _done(
        self, request: Request, state: _CallState, outcome: str, status: int, reason: str | None, started: float
    ) -> None:
        """The call's traces: audit entry, metrics, one log line."""
        nsid = self.route.nsid
        unaudited = state.note.written or self.route.auth in UNAUDITED_WHEN_ALLOWED
        if not (outcome == "allowed" and unaudited):
            request.app.state.services.audit.record(state.entry(nsid, request, outcome, status, reason))
        observe_request(nsid, request.method, status, started)
        actor = state.principal.did if state.principal else None
        polled = status < 400 and POLL_HEADER in request.headers
        request_log.log(
            logging.DEBUG if polled else logging.INFO,
            "%s %s %d %s",
            request.method,
            nsid,
            status,
            actor or "-",
            extra={
                "nsid": nsid,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "actor": actor,
                "outcome": outcome,
                "reason": reason,
            },
        )

    async def _answer(self, request: Request, services: Services, state: _CallState) -> Response:
        route = self.route
        method = "GET" if request.method == "HEAD" else request.method
        if method != self.http_method:
            raise XRPCError.invalid_request(f"Incorrect HTTP method ({request.method}); expected {self.http_method}")
        params = parse_params(request.query_params.multi_items(), route.param_specs, route.params)
        principal = await services.authenticator.authenticate(request, route)
        state.principal = principal
        authorize(principal, route)
        if route.kind == "procedure":
            body = await parse_input(request, route.input, route.input_encoding, self.max_body_bytes, self.body_seconds)
        else:
            # a GET with neither header has no body to drain (HTTP/1.1 framing), so skip the read
            framed = "content-length" in request.headers or "transfer-encoding" in request.headers
            if framed and await read_capped(request, self.max_body_bytes, self.body_seconds):
                raise XRPCError.invalid_request("A query takes no request body")
            body = None
        if self.handler is None:
            raise XRPCError.not_implemented(f"{route.nsid} is not implemented yet")
        call = Call(params, body, principal, services, request, note=state.note)
        result = await self.handler(call)
        if route.output is None:
            return Response(status_code=200)
        if not isinstance(result, route.output):
            log.error("handler of %s returned %s, not %s", route.nsid, type(result).__name__, route.output.__name__)
            raise XRPCError.internal()
        return model_response(result)


@dataclass
class _CallState:
    """What the audit entry of a call needs, gathered as the call goes."""

    principal: Principal | None = None
    note: AuditNote = field(default_factory=AuditNote)

    def entry(self, method: str, request: Request, outcome: str, status: int, reason: str | None) -> AuditEntry:
        return audit_entry(method, request, self.principal, self.note, outcome, status, reason)
