"""The SSRF guard: refused targets are refused after DNS, and nothing connects to them (a real listener counts)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest

from chive_admin.upstream.guard import (
    UnsafeUpstream,
    check_service_url,
    check_websocket_url,
    is_private_name,
    is_public,
    resolve_checked,
    upstream_http,
)

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::",
    "64:ff9b::7f00:1",
    "64:ff9b::808:808",  # NAT64: refused whatever it embeds (the gateway is ours to reach, not the target's)
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a00:1::1",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "a.localhost", "pds.local", "pds.internal", "x.invalid", "nas.home.arpa"]
)
async def test_special_use_names_are_refused_before_any_lookup(host: str) -> None:
    with pytest.raises(UnsafeUpstream, match="special-use"):
        await resolve_checked(host, 80, allow_private=False)
    with pytest.raises(UnsafeUpstream, match="special-use"):
        await check_service_url(f"https://{host}", allow_private=False)


@pytest.mark.parametrize("host", ["pds.example.com", "localhost.example.com", "internal.example", "mylocal"])
def test_ordinary_names_are_not_special_use(host: str) -> None:
    assert not is_private_name(host)


LOOPBACK_SPELLINGS = ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "localhost", "::1"]


@pytest.mark.parametrize("host", [*LOOPBACK_SPELLINGS, "localhost."])
async def test_spellings_of_loopback_are_refused_after_resolution(host: str) -> None:
    with pytest.raises(UnsafeUpstream):
        await resolve_checked(host, 80, allow_private=False)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_the_flag_allows_them(host: str) -> None:
    assert await resolve_checked(host, 80, allow_private=True)


class Listener:
    """A TCP listener on loopback that counts connections and answers a minimal HTTP response."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    target = Listener()
    server = await asyncio.start_server(target._serve, "127.0.0.1", 0)
    target.port = server.sockets[0].getsockname()[1]
    async with server:
        yield target


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
async def test_nothing_reaches_a_refused_target(listener: Listener, host: str) -> None:
    async with upstream_http(allow_private=False) as http:
        with pytest.raises(UnsafeUpstream):
            await http.get(f"http://{host}:{listener.port}/xrpc/_health")
        with pytest.raises(UnsafeUpstream):  # the XRPC calls' path past httpx's models: the same guard
            async with http.answer(f"http://{host}:{listener.port}/xrpc/_health", {}):
                pass
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/xrpc/x", "scheme 'ftp'"),
        ("http://user:pw@127.0.0.1/xrpc/x", "credentials"),
        ("http://127.1/xrpc/x", "not an address"),
    ],
)
async def test_the_answer_path_refuses_what_the_client_refuses(listener: Listener, url: str, why: str) -> None:
    async with upstream_http(allow_private=True) as http:
        with pytest.raises(UnsafeUpstream, match=why):
            await http.get(url)
        with pytest.raises(UnsafeUpstream, match=why):
            async with http.answer(url, {}):
                pass
    assert listener.connections == 0


async def test_the_flag_lets_loopback_through(listener: Listener) -> None:
    async with upstream_http(allow_private=True) as http:
        response = await http.get(f"http://localhost:{listener.port}/xrpc/_health")
    assert response.status_code == 200
    assert listener.connections == 1


async def test_redirects_are_not_followed(listener: Listener) -> None:
    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        location = f"http://127.0.0.1:{listener.port}/"
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(redirect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, upstream_http(allow_private=True) as http:
        response = await http.get(f"http://127.0.0.1:{port}/")
        async with http.answer(f"http://127.0.0.1:{port}/", {}) as answer:
            answered = answer.status_code
    assert response.status_code == answered == 302
    assert listener.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "ftp://pds.example.com",
        "file:///etc/passwd",
        "https://user:pw@pds.example.com",
        "https://pds.example.com/xrpc",
        "https://pds.example.com?q=1",
        "https://pds.example.com#x",
        "http://127.0.0.1:2583",
        "http://localhost.:2583",
        "http://[::1]",
        "http://169.254.169.254",
        "not a url",
    ],
)
async def test_service_urls_refused(url: str) -> None:
    with pytest.raises(UnsafeUpstream):
        await check_service_url(url, allow_private=False)


async def test_service_url_normalised() -> None:
    assert await check_service_url("HTTP://LocalHost:2583/", allow_private=True) == "http://localhost:2583"


async def test_every_refusal_of_a_private_target_names_the_flag_that_allows_it(listener: Listener) -> None:
    refusals = []
    for host in ("localhost", "pds.internal", "127.0.0.1", "::1"):  # special-use names, and what names resolve to
        with pytest.raises(UnsafeUpstream) as refused:
            await check_service_url(
                f"http://{host}:{listener.port}" if ":" not in host else f"http://[{host}]", allow_private=False
            )
        refusals.append(str(refused.value))
    async with upstream_http(allow_private=False) as http:  # an address written in the URL
        with pytest.raises(UnsafeUpstream) as refused:
            await http.get(f"http://127.0.0.1:{listener.port}/")
        refusals.append(str(refused.value))
    for message in refusals:
        assert message.endswith("a local or test network needs the server started with --allow-private-network")
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("url", "allow_private", "why"),
    [
        ("https://relay.example/xrpc/x", False, "not a ws:// or wss://"),
        ("wss://user:pw@relay.example/xrpc/x", False, "credentials"),
        ("ws://127.0.0.1:2583/xrpc/x", False, "non-public"),
        ("ws://[::ffff:10.0.0.1]/xrpc/x", False, "non-public"),
        ("wss:///xrpc/x", True, "not a ws:// or wss://"),
    ],
)
def test_websocket_urls_the_guard_refuses(url: str, allow_private: bool, why: str) -> None:
    with pytest.raises(UnsafeUpstream, match=why):
        check_websocket_url(url, allow_private=allow_private)


def test_websocket_urls_the_guard_lets_through() -> None:
    assert check_websocket_url("wss://relay.example/xrpc/x", allow_private=False).host == "relay.example"
    # a name is checked by what it resolves to, when it is connected to (GuardedResolver)
    assert check_websocket_url("ws://localhost:2583/xrpc/x", allow_private=True).port == 2583
    assert check_websocket_url("ws://127.0.0.1:2583/xrpc/x", allow_private=True).host == "127.0.0.1"
