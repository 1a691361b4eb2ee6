"""Reading a request body: capped in size and in time, whatever the framing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chive_admin.xrpc.body import read_capped
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response


async def echo_size(request: Request) -> Response:
    try:
        body = await read_capped(request, 1000, seconds=0.5)
    except XRPCError as exc:
        return error_response(exc)
    return Response(str(len(body)))


APP = Starlette(routes=[Route("/", echo_size, methods=["POST"])])


async def post(content: bytes | AsyncIterator[bytes], headers: dict[str, bytes] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as client:
        return await client.post("/", content=content, headers=headers)


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
