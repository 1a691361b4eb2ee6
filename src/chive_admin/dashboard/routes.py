"""Serving the dashboard: three static files under a strict CSP, and its config for a signed-in operator."""

from __future__ import annotations

from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from chive_admin import __version__
from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.policy import authenticate_and_authorize
from chive_admin.dashboard.forms import trigger_forms
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response, json_response

#: No inline script or style, nothing from another origin, no framing, and no form may ever submit (the key must
#: never travel in a URL, even if the script failed to load and the browser fell back to a plain GET submit).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
#: the XRPC methods the page calls, by the names the script uses
METHODS = {
    "status": ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS,
    "history": ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY,
    "cancel": ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL,
    "listDlq": ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES,
    "retryDlq": ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY,
    "dismissDlq": ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY,
    "listPdses": ids.PUB_CHIVE_ADMIN_LIST_PDSES,
    "rescanPds": ids.PUB_CHIVE_ADMIN_RESCAN_PDS,
    "listWarnings": ids.PUB_CHIVE_ADMIN_LIST_WARNINGS,
    "listViolations": ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS,
    "firehoseStatus": ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS,
    "timeSeries": ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES,
    "trending": ids.PUB_CHIVE_ADMIN_GET_TRENDING_VELOCITY,
}


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("chive_admin.dashboard") / "static"
    return {name: (folder / name).read_bytes() for name in _ASSETS}


def dashboard_routes() -> list[BaseRoute]:
    assets = _load_assets()  # read once: the set is fixed, so no request path ever reaches the file system

    def asset(name: str) -> Route:
        async def serve(request: Request) -> Response:
            return Response(assets[name], media_type=_ASSETS[name], headers=_HEADERS)

        path = "/admin/" if name == "index.html" else f"/admin/{name}"
        return Route(path, serve, methods=["GET", "HEAD"], name=f"dashboard-{name}")

    async def to_index(request: Request) -> Response:
        return RedirectResponse("/admin/", status_code=308)

    return [
        Route("/", to_index, methods=["GET", "HEAD"]),  # a browser pointed at the server finds the dashboard
        Route("/admin", to_index, methods=["GET", "HEAD"]),
        *(asset(name) for name in _ASSETS),
        Route("/admin/config.json", config, methods=["GET"]),
    ]


async def config(request: Request) -> Response:
    """What the page needs once signed in; asking for it is how the page checks the key."""
    services = request.app.state.services
    try:
        # read-only, like getBackfillStatus, so a service-auth JWT for that method opens it too
        await authenticate_and_authorize(services.authenticator, request, ROUTES[METHODS["status"]])
    except XRPCError as exc:
        return error_response(exc)
    body: dict[str, Any] = {
        "version": __version__,
        "serviceDid": services.settings.service_did,
        "methods": METHODS,
        "triggers": trigger_forms(services.engine.registry),
    }
    response = json_response(body)
    response.headers.update(_HEADERS)
    return response
