"""The aiohttp transport, under httpx's client and on its own (``UpstreamHttp.answer``, the XRPC calls' path): answers
arrive as httpx would give them, failures as the httpx error of the same meaning, and every request is sent once
(retrying is the caller's policy, not the transport's). Tests taking ``get`` run on both paths."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

import httpx
import pytest
from starlette.requests import Request
from support.scripted import Answer, Script, scripted_server
from support.server import free_port

from chive_admin.upstream import transport
from chive_admin.upstream.guard import UpstreamHttp, upstream_http
from chive_admin.upstream.transport import Deadline, DeadlinePassed, Undecodable, deadline


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[UpstreamHttp]:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0, read=0.3)) as client:
        yield client


#: a GET's status, headers and whole body: ``(client, url, params, own deadline)``
Get = Callable[
    [UpstreamHttp, str, Mapping[str, str] | None, Deadline | None], Awaitable[tuple[int, Mapping[str, str], bytes]]
]


async def _via_httpx(
    http: UpstreamHttp, url: str, params: Mapping[str, str] | None, limit: Deadline | None
) -> tuple[int, Mapping[str, str], bytes]:
    extensions = {} if limit is None else deadline(limit.seconds, min_rate=limit.min_rate)
    response = await http.get(url, params=params, extensions=extensions)
    return response.status_code, response.headers, response.content


async def _via_answer(
    http: UpstreamHttp, url: str, params: Mapping[str, str] | None, limit: Deadline | None
) -> tuple[int, Mapping[str, str], bytes]:
    async with http.answer(url, params or {}, limit=limit) as answer:
        return answer.status_code, answer.headers, b"".join([chunk async for chunk in answer.aiter_bytes()])


@pytest.fixture(params=[_via_httpx, _via_answer], ids=["httpx", "answer"])
def get(request: pytest.FixtureRequest) -> Get:
    chosen: Get = request.param
    return chosen


async def test_query_string_headers_and_gzip_body_arrive_as_sent(
    server: tuple[str, Script], http: UpstreamHttp, get: Get
) -> None:
    url, script = server
    body = json.dumps({"cursor": "a b/c", "n": list(range(2000))}).encode()
    headers = {"content-type": "application/json", "content-encoding": "gzip", "x-seen": "1"}
    asked: list[Request] = []
    script.push(lambda request: asked.append(request) or Answer(200, gzip.compress(body), headers))
    status, got, content = await get(http, f"{url}/xrpc/x", {"repo": "did:plc:a", "cursor": "3k/+ %"}, None)
    assert status == 200
    assert json.loads(content) == json.loads(body)  # inflated by the transport, which the size caps count
    assert "content-encoding" not in got  # httpx gets the inflated body, and must not inflate it again
    assert "content-length" not in got  # the compressed body's length (a caller would call the answer truncated)
    assert got.get("Content-Type") == "application/json"  # the rest kept, case-insensitive
    assert got["x-seen"] == "1"
    assert script.seen == ["/xrpc/x?repo=did%3Aplc%3Aa&cursor=3k%2F%2B+%25"]
    assert asked[0].headers["user-agent"] == "chive-admin"  # the client's headers, on either path
    assert asked[0].headers["accept-encoding"] == "gzip, deflate"


async def test_a_refused_connection_is_a_connect_error(http: UpstreamHttp, get: Get) -> None:
    with pytest.raises(httpx.ConnectError):
        await get(http, f"http://127.0.0.1:{free_port()}/xrpc/x", None, None)


async def test_a_stalled_answer_is_a_read_timeout(server: tuple[str, Script], http: UpstreamHttp, get: Get) -> None:
    url, script = server
    script.push(Answer(200, b"{}", delay=1.0))
    with pytest.raises(httpx.ReadTimeout):
        await get(http, f"{url}/xrpc/x", None, None)


async def test_a_cut_answer_is_a_protocol_error(server: tuple[str, Script], http: UpstreamHttp, get: Get) -> None:
    url, script = server
    script.push(Answer(200, b"x" * 100_000, truncate_at=1000))
    with pytest.raises(httpx.RemoteProtocolError):
        await get(http, f"{url}/xrpc/x", None, None)


async def test_an_unread_answer_closed_early_leaves_the_client_usable(
    server: tuple[str, Script], http: UpstreamHttp
) -> None:
    url, script = server
    script.push(Answer(200, b"y" * 1_000_000, {"content-type": "application/octet-stream"}))
    async with http.stream("GET", f"{url}/xrpc/big") as response:
        async for chunk in response.aiter_bytes():
            assert chunk
            break
    script.push(Answer(200, b"y" * 1_000_000, {"content-type": "application/octet-stream"}))
    async with http.answer(f"{url}/xrpc/big", {}) as answer:
        async for chunk in answer.aiter_bytes():
            assert chunk
            break
    script.push(Answer(200, b'{"ok":true}'))
    assert (await http.get(f"{url}/xrpc/small")).json() == {"ok": True}


async def test_a_dropped_keepalive_connection_is_not_resent() -> None:
    """aiohttp would resend a request whose reused connection closed under it; here that is one request, failed."""
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the second request on this connection: dropped unanswered
        requests += 1
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, upstream_http(allow_private=True) as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).status_code == 200
        with pytest.raises(httpx.TransportError):
            await http.get(f"http://127.0.0.1:{port}/")
    assert requests == 2


# -- bounds a hostile server cannot stretch: a total deadline, bounded inflation ---------------------------------


async def test_every_request_has_the_clients_total_deadline_or_its_own(server: tuple[str, Script], get: Get) -> None:
    url, script = server
    drip = Answer(200, b" " * 10_000, drip=0.05)  # each byte well within the read timeout
    script.push(drip, drip, Answer(200, b"{}", delay=0.6))
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0), deadline=0.5) as http:
        async with asyncio.timeout(30):  # a limit for the test: without a deadline the drip takes 500 s
            with pytest.raises(DeadlinePassed, match=r"0\.5 s deadline"):
                await get(http, f"{url}/xrpc/drip", None, None)
            # a caller's own (here a smaller one, as identity resolution gives itself)
            with pytest.raises(DeadlinePassed, match=r"0\.2 s deadline") as info:
                await get(http, f"{url}/xrpc/drip", None, Deadline(0.2))
            assert isinstance(info.value, httpx.TimeoutException)  # what a caller that knows only httpx catches
            # the head of the answer counts too, not only its body
            with pytest.raises(DeadlinePassed):
                await get(http, f"{url}/xrpc/slow", None, Deadline(0.3))


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ],
)
async def test_compressed_answers_are_inflated_a_piece_at_a_time(
    server: tuple[str, Script], http: UpstreamHttp, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    url, script = server
    body = b"".join(b"%08d" % n for n in range(100_000))  # 800 KB
    script.push(Answer(200, compress(body), {"content-type": "application/octet-stream", "content-encoding": encoding}))
    async with http.stream("GET", f"{url}/xrpc/x") as response:
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == body
    assert max(map(len, pieces)) <= transport.PIECE
    assert http.headers["accept-encoding"] == "gzip, deflate"  # what it asks for is what it can inflate


@pytest.mark.parametrize(
    ("encoding", "body", "said"),
    [
        ("br", b"\x0b\x02\x80{}\x03", "'br' encoding, which was not asked for"),
        ("gzip, gzip", gzip.compress(gzip.compress(b"{}")), "not asked for"),
        ("gzip", b"not gzip at all", "does not inflate"),
        ("gzip", gzip.compress(b"{}" * 1000)[:-20], "ends before"),
        ("gzip", gzip.compress(b"{}") + b"\0" * 100_000, "goes on after the end"),
    ],
)
async def test_an_answer_that_cannot_be_inflated_is_a_protocol_error(
    server: tuple[str, Script], http: UpstreamHttp, get: Get, encoding: str, body: bytes, said: str
) -> None:
    url, script = server
    script.push(Answer(200, body, {"content-type": "application/json", "content-encoding": encoding}))
    with pytest.raises(Undecodable, match=said) as info:
        await get(http, f"{url}/xrpc/x", None, None)
    assert isinstance(info.value, httpx.RemoteProtocolError)  # a did:web document fetch sees a protocol error
    script.push(Answer(200, b'{"ok":true}'))
    assert (await http.get(f"{url}/xrpc/small")).json() == {"ok": True}
