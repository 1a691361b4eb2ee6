"""Rendering of XRPC answers."""

from __future__ import annotations

import json

from starlette.responses import Response

from chive_admin.lex import LexModel
from chive_admin.xrpc.errors import XRPCError

JSON = "application/json; charset=utf-8"


def error_response(err: XRPCError) -> Response:
    return Response(
        json.dumps(err.body(), ensure_ascii=False, separators=(",", ":")).encode(),
        status_code=err.status,
        media_type=JSON,
        headers=err.headers,
    )


def model_response(model: LexModel) -> Response:
    return Response(model.model_dump_json(by_alias=True, exclude_none=True), media_type=JSON)


def json_response(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")).encode(), status_code=status, media_type=JSON)
