"""The SSRF guard: upstream calls reach only public addresses, checked after DNS, and connect to what was checked.

A URL's host is resolved here, every address it resolves to must be public (not loopback, private, link-local,
multicast, unspecified, reserved, shared or documentation space; IPv4-mapped IPv6 included), and the connection is
opened to the checked address itself, so no second lookup can swap in 127.0.0.1 (DNS rebinding). An IP literal is
checked as it is written; ``localhost.`` and names alike by what they resolve to; decimal, octal and hex IPv4
spellings are refused as URLs (and by what they resolve to, where a service URL is admitted).
``--allow-private-network`` lifts the address rule for local development and the tests; schemes stay http(s).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from chive_admin.settings import DEFAULT_UPSTREAM_DEADLINE
from chive_admin.upstream.errors import UpstreamError
from chive_admin.upstream.transport import ACCEPT_ENCODING, AiohttpTransport, Answer, ByteObserver, Deadline
from chive_admin.upstream.urls import normalise_service_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUpstream(UpstreamError):
    """An upstream URL or address the guard refuses; never retried."""

    @property
    def retryable(self) -> bool:
        return False


#: NAT64 (RFC 6052): a gateway forwards these to the IPv4 address inside, whichever it is
NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: special-use names (RFC 6761, 6762, 9476) that name this host or a private network, whatever DNS says of them
PRIVATE_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".invalid", ".home.arpa")
#: the end of every refusal of a non-public address: the one way a local test network is let through
PRIVATE_HINT = "; a local or test network needs the server started with --allow-private-network"


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def is_public_text(address: str) -> bool:
    """``is_public`` of an address as text, an IPv6 zone (``fe80::1%eth0``) ignored; ValueError if not an address."""
    return is_public(ipaddress.ip_address(address.split("%")[0]))


def is_private_name(host: str) -> bool:
    name = "." + host.lower().rstrip(".")
    return name == ".localhost" or name.endswith(PRIVATE_NAME_SUFFIXES)


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, all of them allowed; ``UnsafeUpstream`` otherwise."""
    if not allow_private and is_private_name(host):
        raise UnsafeUpstream(host, f"{host!r} is a special-use name for a non-public network{PRIVATE_HINT}")
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUpstream(host, f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeUpstream(host, f"{host!r} resolves to no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public_text(a)]
        if refused:
            raise UnsafeUpstream(host, f"{host!r} resolves to a non-public address ({refused[0]}){PRIVATE_HINT}")
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


class GuardedResolver(AbstractResolver):
    """aiohttp's name lookup, answering only addresses the guard allows: the connection goes to what was checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_UNSPEC) -> list[ResolveResult]:
        addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        return [
            ResolveResult(
                hostname=host,  # TLS still verifies and sends SNI for the name, not the address
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def _check_literal(host: str, *, allow_private: bool) -> None:
    """An IP literal host: aiohttp connects to it without asking the resolver, so it is checked here."""
    if allow_private:
        return
    try:
        public = is_public_text(host)
    except ValueError:  # a name: the resolver checks what it resolves to
        return
    if not public:
        raise UnsafeUpstream(host, f"{host!r} is a non-public address{PRIVATE_HINT}")


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's trust store (certifi), loaded once for the process: loading it takes tens of milliseconds, a server
    makes three clients, and one context serves any number of connections."""
    return httpx.create_ssl_context()


def guarded_connector(*, allow_private: bool, limits: httpx.Limits) -> Callable[[], aiohttp.TCPConnector]:
    """What makes the connector of a guarded session: names resolved (and refused) by the guard, and the process's
    one TLS context."""
    tls = _tls()

    def connector() -> aiohttp.TCPConnector:
        return aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_private=allow_private),
            ssl=tls,
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
        )

    return connector


class GuardedTransport(AiohttpTransport):
    def __init__(self, *, allow_private: bool, limits: httpx.Limits, limit: Deadline, on_bytes: ByteObserver) -> None:
        connector = guarded_connector(allow_private=allow_private, limits=limits)
        super().__init__(connector, limit=limit, on_bytes=on_bytes)
        self._allow_private = allow_private

    @contextmanager
    def _checked(self, url: httpx.URL) -> Iterator[None]:
        """A request to ``url`` goes on inside this only if the URL passes the guard (the address, once resolved, is
        the resolver's to check)."""
        host = str(url.host)
        if url.scheme not in ("http", "https"):
            raise UnsafeUpstream(host, f"scheme {url.scheme!r} is not allowed upstream")
        if url.userinfo:
            raise UnsafeUpstream(host, "credentials in upstream URLs are not allowed")
        _check_literal(host, allow_private=self._allow_private)
        try:
            yield
        except httpx.InvalidURL:
            # aiohttp refuses legacy spellings of IPv4 (2130706433, 127.1) rather than resolve them
            raise UnsafeUpstream(host, f"{host!r} is not an address this server calls") from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self._checked(request.url):
            return await super().handle_async_request(request)

    async def get(
        self, url: httpx.URL, headers: list[tuple[str, str]], *, timeouts: httpx.Timeout, limit: Deadline | None = None
    ) -> Answer:
        with self._checked(url):
            return await super().get(url, headers, timeouts=timeouts, limit=limit)


class UpstreamHttp(httpx.AsyncClient):
    """The upstream client (:func:`upstream_http`): httpx's API for every caller, and :meth:`answer` for the XRPC
    calls a backfill makes by the thousand. It skips httpx's request and response models, most of what a
    listRecords page costs the client (``python -m bench.profile_ingest``), and keeps the same guard, deadline,
    inflating and errors."""

    def __init__(self, transport: GuardedTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._guarded = transport

    @asynccontextmanager
    async def answer(
        self, url: str, params: Mapping[str, str], *, limit: Deadline | None = None
    ) -> AsyncIterator[Answer]:
        """The answer to a GET of ``url`` with ``params``, under this client's headers and timeouts and ``limit``
        (the client's deadline when ``None``); raises what ``stream()`` would."""
        target = httpx.URL(url, params=params)
        answer = await self._guarded.get(target, self.headers.multi_items(), timeouts=self.timeout, limit=limit)
        try:
            yield answer
        finally:
            await answer.aclose()


def check_websocket_url(url: str, *, allow_private: bool) -> yarl.URL:
    """A WebSocket URL the guard lets through: ws/wss, no credentials, an IP literal only if allowed (a name is
    checked by :class:`GuardedResolver` when it is connected to)."""
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        raise UnsafeUpstream(url[:200], f"{url[:200]!r} is not a URL") from None
    host = parsed.host or ""
    if parsed.scheme not in ("ws", "wss") or not host:
        raise UnsafeUpstream(host, f"{url[:200]!r} is not a ws:// or wss:// URL")
    if parsed.user is not None or parsed.password is not None:
        raise UnsafeUpstream(host, "credentials in upstream URLs are not allowed")
    _check_literal(host, allow_private=allow_private)
    return parsed


async def _refuse_redirect(
    session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestRedirectParams
) -> None:
    params.response.release()
    host = params.url.host or ""
    raise UnsafeUpstream(host, f"{host!r} answered the handshake with a redirect (not followed upstream)")


def websocket_session(*, allow_private: bool) -> aiohttp.ClientSession:
    """A session for upstream WebSockets, on the guard's resolver: no redirects, cookies or proxies, as for calls.

    ``ws_connect`` has no ``allow_redirects``: it follows up to ten, and aiohttp connects to an IP literal without
    asking the resolver, so a redirect to ``http://127.0.0.1`` would pass the guard. Every redirect is refused."""
    connector = guarded_connector(allow_private=allow_private, limits=httpx.Limits(max_connections=8))
    refuse = aiohttp.TraceConfig()
    refuse.on_request_redirect.append(_refuse_redirect)
    return aiohttp.ClientSession(
        connector=connector(),
        trace_configs=[refuse],
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": "chive-admin"},
    )


UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
UPSTREAM_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)


def upstream_http(
    *,
    allow_private: bool,
    timeout: httpx.Timeout = UPSTREAM_TIMEOUT,
    deadline: float = DEFAULT_UPSTREAM_DEADLINE,
    on_bytes: ByteObserver = lambda form, n: None,
) -> UpstreamHttp:
    """The one HTTP client for every upstream call: guarded, no redirects followed, bounded pool, timeouts, and a
    total ``deadline`` for every request that does not carry its own (``transport.deadline``)."""
    return UpstreamHttp(
        GuardedTransport(
            allow_private=allow_private, limits=UPSTREAM_LIMITS, limit=Deadline(deadline), on_bytes=on_bytes
        ),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment would be connected to instead of the checked address
        headers={"User-Agent": "chive-admin", "Accept-Encoding": ACCEPT_ENCODING},
    )
