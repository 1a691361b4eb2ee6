"""The SSRF guard: upstream calls reach only public addresses, checked after DNS, and connect to what was checked.

A URL's host is resolved here, every address it resolves to must be public (not loopback, private, link-local,
multicast, unspecified, reserved, shared or documentation space; IPv4-mapped IPv6 included), and the connection is
opened to the checked address itself, so no second lookup can swap in 127.0.0.1 (DNS rebinding). Decimal, octal and
hex IPv4 spellings and ``localhost.`` resolve like any name and are refused by what they resolve to.
``--allow-private-network`` lifts the address rule for local development and the tests; schemes stay http(s).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from chive_admin.upstream.errors import UpstreamError
from chive_admin.upstream.urls import normalise_service_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUpstream(UpstreamError):
    """An upstream URL or address the guard refuses; never retried."""

    @property
    def retryable(self) -> bool:
        return False


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, all of them allowed; ``UnsafeUpstream`` otherwise."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUpstream(host, f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeUpstream(host, f"{host!r} resolves to no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
        if refused:
            raise UnsafeUpstream(host, f"{host!r} resolves to a non-public address ({refused[0]})")
    return addresses


async def check_service_url(url: str, *, allow_private: bool) -> str:
    """A service URL (a PDS) normalised and checked, before anything is queued for it."""
    try:
        origin = normalise_service_url(url)
    except ValueError as exc:
        raise UnsafeUpstream(url, str(exc)) from None
    try:
        parts = httpx.URL(origin)
    except (ValueError, httpx.InvalidURL):  # httpx refuses some spellings itself (e.g. an IPv4 with an octal part)
        raise UnsafeUpstream(url, f"{url!r} is not a URL this server calls") from None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await resolve_checked(parts.host, port, allow_private=allow_private)
    return origin


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, with every TCP connection resolved and checked here first."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, *, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        last: Exception | None = None
        for address in addresses:  # TLS still verifies and sends SNI for ``host``: httpcore passes the origin name
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not upstreams")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx builds its httpcore pool with the default backend; the pool reads this attribute at every connect
        pool = self._pool
        pool._network_backend = GuardedBackend(pool._network_backend, allow_private=allow_private)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise UnsafeUpstream(str(request.url.host), f"scheme {request.url.scheme!r} is not allowed upstream")
        if request.url.userinfo:
            raise UnsafeUpstream(str(request.url.host), "credentials in upstream URLs are not allowed")
        return await super().handle_async_request(request)


UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
UPSTREAM_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)


def upstream_http(*, allow_private: bool, timeout: httpx.Timeout = UPSTREAM_TIMEOUT) -> httpx.AsyncClient:
    """The one HTTP client for every upstream call: guarded, no redirects followed, bounded pool, timeouts."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, limits=UPSTREAM_LIMITS),
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "chive-admin"},
    )
