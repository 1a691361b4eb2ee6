"""Reading a request body (capped in size and in time, whatever the framing), then parsing it as a procedure's input:
content type, strict UTF-8 JSON, an object, the lexicon's model by wire name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin._generated.models.pub.chive.admin import trigger_backfill
from chive_admin.xrpc.body import parse_input, read_capped
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response, json_response

TRIGGER = ROUTES[ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL]
JSON = {"Content-Type": b"application/json"}


async def echo_size(request: Request) -> Response:
    try:
        body = await read_capped(request, 1000, seconds=0.5)
    except XRPCError as exc:
        return error_response(exc)
    return Response(str(len(body)))


async def trigger_input(request: Request) -> Response:
    try:
        parsed = await parse_input(request, TRIGGER.input, TRIGGER.input_encoding, 1 << 20, seconds=5)
    except XRPCError as exc:
        return error_response(exc)
    assert parsed is not None
    return json_response(parsed.model_dump(mode="json", by_alias=True, exclude_none=True))


async def no_input(request: Request) -> Response:
    try:
        parsed = await parse_input(request, None, None, 1000, seconds=5)
    except XRPCError as exc:
        return error_response(exc)
    return json_response({"parsed": parsed})


APP = Starlette(
    routes=[
        Route("/", echo_size, methods=["POST"]),
        Route("/trigger", trigger_input, methods=["POST"]),
        Route("/nothing", no_input, methods=["POST"]),
    ]
)


async def post(
    content: bytes | AsyncIterator[bytes] | None, headers: dict[str, bytes] | None = None, path: str = "/"
) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as client:
        return await client.post(path, content=content, headers=headers)


async def test_a_body_that_arrives_in_time_is_read_whole() -> None:
    async def quick() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 10

    answer = await post(quick())
    assert (answer.status_code, answer.text) == (200, "100")


async def test_a_body_that_trickles_past_the_deadline_is_refused_and_the_connection_closed() -> None:
    sent = 0

    async def trickle() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):  # would take 5 s
            sent += 1
            yield b"x"
            await asyncio.sleep(0.05)

    answer = await asyncio.wait_for(post(trickle()), timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": "InvalidRequest", "message": "Request body did not arrive within 0.5 s"}
    assert answer.headers["connection"] == "close"
    assert sent < 100


async def test_size_is_refused_up_front_or_as_it_streams() -> None:
    assert (await post(b"x" * 1001)).status_code == 413

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 100

    assert (await post(endless())).status_code == 413
    bad = await post(b"x", headers={"Content-Length": "²".encode("latin-1")})  # a digit to str.isdigit, not to int
    assert bad.status_code == 400


async def test_an_input_is_parsed_by_its_wire_names() -> None:
    answer = await post(b'{"type": "pdsScan", "pdsUrl": "https://pds.example"}', JSON, "/trigger")
    assert answer.status_code == 200, answer.text
    assert trigger_backfill.Input.model_validate(answer.json()) == trigger_backfill.Input(
        type="pdsScan", pds_url="https://pds.example"
    )
    typed = await post(b"{}", {"Content-Type": b"application/json; charset=utf-8"}, "/trigger")
    assert typed.json()["message"] == "Invalid input: type: required"  # the charset does not change the media type


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error", "fragment"),
    [
        (b"[]", "application/json", 400, "InvalidRequest", "must be a JSON object"),
        (b'"x"', "application/json", 400, "InvalidRequest", "must be a JSON object"),
        (b"\xff\xfe{}", "application/json", 400, "InvalidRequest", "not valid UTF-8"),
        (b"{", "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b'{"type": NaN}', "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b'{"type": "pdsScan"}', "text/plain", 415, "UnsupportedMediaType", "application/json"),
        (b"", "application/json", 400, "InvalidRequest", "not valid JSON"),
        (b"{}", "application/json", 400, "InvalidRequest", "type: required"),
        (b'{"type": 5}', "application/json", 400, "InvalidRequest", "type"),
        (b'{"type": "pdsScan", "batchSize": "10"}', "application/json", 400, "InvalidRequest", "batchSize"),
        (b'{"type": "pdsScan", "batch_size": 10}', "application/json", 400, "InvalidRequest", "batch_size"),
        (b'{"type": "pdsScan", "extra": 1}', "application/json", 400, "InvalidRequest", "extra: unknown field"),
        (b'{"type": "didSync", "did": "not-a-did"}', "application/json", 400, "InvalidRequest", "did"),
        # Python's "$" matches before a final newline: the SDK's DID pattern took this one
        (
            b'{"type": "didSync", "did": "did:plc:abcdefghijklmnopqrstuvwx\\n"}',
            "application/json",
            400,
            "InvalidRequest",
            "ends in a line break",
        ),
        (b'{"type": "x", "uri": "https://nope"}', "application/json", 400, "InvalidRequest", "uri"),
    ],
)
async def test_bad_inputs(content: bytes, content_type: str, status: int, error: str, fragment: str) -> None:
    answer = await post(content, {"Content-Type": content_type.encode()}, "/trigger")
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert fragment in answer.json()["message"]


async def test_an_input_needs_a_body_or_at_least_a_content_type() -> None:
    answer = await post(None, None, "/trigger")
    assert answer.json() == {"error": "InvalidRequest", "message": "Request body is required (application/json)"}


async def test_a_method_without_input_takes_no_body() -> None:
    assert (await post(None, None, "/nothing")).json() == {"parsed": None}
    refused = await post(b"{}", JSON, "/nothing")
    assert refused.json() == {"error": "InvalidRequest", "message": "This method takes no input body"}
