"""Fetching DID documents from a PLC directory or a did:web host, here a real loopback server that answers from a
script: what comes back that is not a document is a typed upstream error, never an escape."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import Iterator

import pytest
from support.scripted import Answer, Script, scripted_server

from chive_admin.upstream import errors
from chive_admin.upstream.did_docs import DidDocFetcher
from chive_admin.upstream.guard import upstream_http

DID = "did:plc:diddocs000000000000000000"
JSON = {"content-type": "application/json"}


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


async def fetched(url: str) -> dict[str, object]:
    async with upstream_http(allow_private=True) as http:
        return await DidDocFetcher(http, url, allow_private=True).fetch(DID)


async def test_a_document_is_returned(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, b'{"id": "' + DID.encode() + b'", "service": []}', JSON)
    assert await fetched(url) == {"id": DID, "service": []}
    assert script.seen[-1] == f"/{DID}?"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{not json", "not JSON"),
        (b'{"id": NaN}', "not JSON"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),  # past the parser's recursion limit: a RecursionError, before
        (b'{"id": "did:plc:someoneelse0000000000000"}', "not the document of"),
    ],
)
async def test_what_is_not_the_document_is_a_bad_response(server: tuple[str, Script], body: bytes, said: str) -> None:
    url, script = server
    script.default = Answer(200, body, JSON)
    with pytest.raises(errors.BadResponse, match=said):
        await fetched(url)


async def test_a_document_dripping_a_byte_at_a_time_ends_at_the_clients_total_deadline(
    server: tuple[str, Script],
) -> None:
    # every byte well within the read timeout: only the deadline on the whole request (the transport's) ends it
    url, script = server
    script.default = Answer(200, b" " * 10_000, JSON, drip=0.05)
    async with upstream_http(allow_private=True, deadline=0.5) as http:
        async with asyncio.timeout(30):  # a limit for the test: without a deadline the drip takes 500 s
            with pytest.raises(errors.Unreachable, match="timed out"):
                await DidDocFetcher(http, url, allow_private=True).fetch(DID)


@pytest.mark.parametrize(
    ("encoding", "body"), [("br", b"\x0b\x02\x80{}\x03"), ("gzip", b"not gzip"), ("gzip", gzip.compress(b"{}")[:-9])]
)
async def test_a_document_that_cannot_be_inflated_is_a_typed_error(
    server: tuple[str, Script], encoding: str, body: bytes
) -> None:
    url, script = server
    script.default = Answer(200, body, {**JSON, "content-encoding": encoding})
    with pytest.raises(errors.UpstreamError):  # an httpx.DecodingError escaped before
        await fetched(url)


async def test_a_document_dripping_a_byte_at_a_time_ends_at_the_deadline() -> None:
    """Each byte resets a read timeout: only a total deadline ends the fetch (and frees its connection)."""
    served: list[asyncio.StreamWriter] = []

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
            while not writer.is_closing():
                await asyncio.sleep(0.1)
                writer.write(b" ")
                await writer.drain()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    did = f"did:web:localhost%3A{server.sockets[0].getsockname()[1]}"
    async with server, upstream_http(allow_private=True) as http:
        fetcher = DidDocFetcher(http, "http://127.0.0.1:1", allow_private=True, deadline=1.0)
        with pytest.raises(errors.Unreachable, match="took over 1 s"):
            await asyncio.wait_for(fetcher.fetch(did), 20)
        assert served
        for writer in served:
            writer.close()


async def test_a_404_body_is_not_read_whole(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(404, b"x" * 20_000_000, JSON)
    with pytest.raises(errors.UpstreamError, match="not registered"):
        await fetched(url)


async def test_a_429_is_a_rate_limit_with_the_wait_asked_for(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(429, b'{"message": "slow down"}', {**JSON, "retry-after": "7"})
    with pytest.raises(errors.RateLimited) as limited:
        await fetched(url)
    assert limited.value.wait_s == 7
