"""Procedure input: content type, size cap, time cap, strict UTF-8 JSON, then the lexicon model."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from chive_admin import untrusted_json
from chive_admin.lex import LexStrictModel
from chive_admin.settings import DEFAULT_CLIENT_TIMEOUT
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.validation import validate


async def read_capped(request: Request, limit: int, seconds: float = DEFAULT_CLIENT_TIMEOUT) -> bytes:
    """The whole body, at most ``limit`` bytes arriving within ``seconds`` in all: a client dribbling a chunked
    body one byte a second would otherwise hold its connection and this call for as long as it liked."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise XRPCError.invalid_request("Invalid Content-Length header")
        if int(declared) > limit:
            raise XRPCError.named("PayloadTooLarge", f"Request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:  # a chunked body has no Content-Length to refuse up front
                    raise XRPCError.named("PayloadTooLarge", f"Request body is larger than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        # the rest of the body is still coming: answer, and close the connection rather than read it
        raise XRPCError(
            400,
            "InvalidRequest",
            f"Request body did not arrive within {seconds:g} s",
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)


def _media_type(request: Request) -> str | None:
    header = request.headers.get("content-type")
    if header is None:
        return None
    return header.split(";", 1)[0].strip().lower()


async def parse_input(
    request: Request,
    model: type[LexStrictModel] | None,
    encoding: str | None,
    limit: int,
    seconds: float = DEFAULT_CLIENT_TIMEOUT,
) -> LexStrictModel | None:
    body = await read_capped(request, limit, seconds)
    if model is None and encoding is None:
        if body:
            raise XRPCError.invalid_request("This method takes no input body")
        return None
    media = _media_type(request)
    if not body and media is None:
        raise XRPCError.invalid_request(f"Request body is required ({encoding})")
    if encoding == "application/json" and media != "application/json":
        raise XRPCError.named(
            "UnsupportedMediaType",
            f"Wrong request encoding (Content-Type): {media or 'none'}; expected application/json",
        )
    if model is None:
        return None
    try:
        data = untrusted_json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise XRPCError.invalid_request("Request body is not valid UTF-8") from None
    except ValueError:
        raise XRPCError.invalid_request("Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise XRPCError.invalid_request("Request body must be a JSON object")
    return validate(model, data, what="input")
