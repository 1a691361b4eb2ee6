"""Dispatch of ``/xrpc/<nsid>`` to the pipeline of that method."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from chive_admin.handlers.call import Handler
from chive_admin.lex import Route
from chive_admin.lex.formats import validate_nsid
from chive_admin.server.pipeline import Pipeline
from chive_admin.settings import DEFAULT_CLIENT_TIMEOUT
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response

log = logging.getLogger(__name__)

#: The longest NSID the spec allows (253-char authority + "." + 63-char name).
MAX_NSID_LENGTH = 317


class UnknownHandlerError(LookupError):
    pass


class XRPCRouter:
    def __init__(
        self,
        routes: Mapping[str, Route],
        handlers: Mapping[str, Handler],
        *,
        max_body_bytes: int,
        body_seconds: float = DEFAULT_CLIENT_TIMEOUT,
    ) -> None:
        stray = sorted(set(handlers) - set(routes))
        if stray:
            raise UnknownHandlerError(f"handlers registered for methods no lexicon defines: {stray}")
        self.pipelines = {
            nsid: Pipeline(route, handlers.get(nsid), max_body_bytes, body_seconds) for nsid, route in routes.items()
        }

    def pipeline_for(self, method: str) -> Pipeline:
        if len(method) > MAX_NSID_LENGTH:
            raise XRPCError.invalid_request("Invalid method name: too long")
        pipeline = self.pipelines.get(method)
        if pipeline is not None:
            return pipeline
        try:
            validate_nsid(method)
        except ValueError:
            raise XRPCError.invalid_request("Invalid method name: not an NSID") from None
        raise XRPCError.not_implemented(f"Method not implemented: {method}")

    async def endpoint(self, request: Request) -> Response:
        try:
            pipeline = self.pipeline_for(request.path_params["method"])
            return await pipeline(request)
        except XRPCError as err:
            return error_response(err)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return error_response(XRPCError.internal())
