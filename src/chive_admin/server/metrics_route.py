"""``GET /metrics``: the Prometheus text exposition, for scrapers.

Protected like an admin method (API key, or a service-auth JWT whose lxm is getPrometheusMetrics), or by a separate
``--metrics-token`` so a scraper needs no admin credential.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.policy import authenticate_and_authorize
from chive_admin.live import status
from chive_admin.telemetry import metrics
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def prometheus(request: Request) -> Response:
    services = request.app.state.services
    token = services.settings.metrics_token
    header = request.headers.get("authorization", "")
    scraper = bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
    if not scraper:
        try:
            route = ROUTES[ids.PUB_CHIVE_ADMIN_GET_PROMETHEUS_METRICS]
            await authenticate_and_authorize(services.authenticator, request, route)
        except XRPCError as exc:
            return error_response(exc)
    await metrics.refresh(services.db, [status.figures(live) for live in services.live_sources()])
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)
