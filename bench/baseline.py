"""The baseline every server bench compares with: a bare Starlette app answering a small JSON object."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PAYLOAD = {"operations": [{"id": "01JBENCH", "type": "pds-scan", "status": "running", "recordsProcessed": 1}]}


async def _json(request: Request) -> JSONResponse:
    return JSONResponse(PAYLOAD)


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/", _json), Route("/json", _json)])
