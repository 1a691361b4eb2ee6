"""Fetching DID documents: did:plc from the PLC directory, did:web from the host's ``/.well-known/did.json``.

Both go through the guarded upstream client. did:web is https by the spec; with ``--allow-private-network`` a
loopback host is fetched over http, so tests can serve their own documents.

A fetch has a total deadline, whatever its read timeout: a host that answers a byte a second resets a read timeout
with every byte, and anyone can name such a host as the issuer of a token.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any
from urllib.parse import unquote

import httpx

from chive_admin import untrusted_json
from chive_admin.upstream.calls import RetryPolicy, rate_limit_wait
from chive_admin.upstream.errors import BadResponse, RateLimited, ServerError, Unreachable, UpstreamError

MAX_DOCUMENT_BYTES = 64 * 1024
#: seconds a whole DID-document fetch (connect, headers, body) may take; PLC answers in well under one
DEADLINE_SECONDS = 5.0


#: how a 429's wait is read (RateLimit-Reset, else Retry-After, capped)
_RATE_LIMITS = RetryPolicy()


class DidNotFound(UpstreamError):
    @property
    def retryable(self) -> bool:
        return False


class DidTombstoned(DidNotFound):
    pass


class UnsupportedDid(DidNotFound):
    pass


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def did_web_url(did: str, *, allow_private: bool) -> str:
    ident = did.removeprefix("did:web:")
    if ":" in ident:  # did:web with a path: not used by atproto, which allows host-level did:web only
        raise UnsupportedDid(ident, f"{did} has a path; atproto allows did:web for hostnames only")
    host = unquote(ident)
    name, _, port = host.partition(":")
    if host.count(":") > 1 or (port and not port.isdigit()) or not name or "[" in host or "/" in host or "@" in host:
        raise UnsupportedDid(ident, f"{did}: a did:web names a host (and port), not {host!r}")
    scheme = "http" if allow_private and _loopback(host) else "https"
    return f"{scheme}://{host}/.well-known/did.json"


class DidDocFetcher:
    def __init__(
        self, http: httpx.AsyncClient, plc_url: str, *, allow_private: bool, deadline: float = DEADLINE_SECONDS
    ) -> None:
        self.http = http
        self.plc_url = plc_url.rstrip("/")
        self.allow_private = allow_private
        self.deadline = deadline

    async def fetch(self, did: str) -> dict[str, Any]:
        if did.startswith("did:plc:"):
            url = f"{self.plc_url}/{did}"
        elif did.startswith("did:web:"):
            url = did_web_url(did, allow_private=self.allow_private)
        else:
            raise UnsupportedDid(did, f"{did.split(':')[1] if ':' in did else did}: unsupported DID method")
        try:
            host = httpx.URL(url).host
        except (ValueError, httpx.InvalidURL):  # httpx's own URL checks (e.g. "0177.0.0.1" is no IPv4 it accepts)
            raise UnsupportedDid(did, f"{did} does not name a usable host") from None
        try:
            async with asyncio.timeout(self.deadline):
                body = await self._get(did, url, host)
        except TimeoutError:
            raise Unreachable(host, f"resolving a DID took over {self.deadline:g} s") from None
        except httpx.TimeoutException:
            raise Unreachable(host, "timed out resolving a DID") from None
        except httpx.TransportError as exc:
            raise Unreachable(host, f"{type(exc).__name__} resolving a DID") from None
        try:
            document = untrusted_json.loads(body)
        except ValueError:
            raise BadResponse(host, "DID document is not JSON") from None
        if not isinstance(document, dict) or document.get("id") != did:
            raise BadResponse(host, f"DID document is not the document of {did}")
        return document

    async def _get(self, did: str, url: str, host: str) -> bytes:
        # a document is a few kilobytes: nothing is gained by compression, and nothing then inflates in memory
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        async with self.http.stream("GET", url, headers=headers) as response:
            if response.status_code == 404:
                # the reference PLC server answers a tombstoned DID 404 "DID not available" (plc.directory: 410)
                detail = await head_of(response, 512)
                if b"not available" in detail:
                    raise DidTombstoned(host, f"{did} is tombstoned", status=404)
                raise DidNotFound(host, f"{did} is not registered", status=404)
            if response.status_code == 429:  # the PLC directory's rate limit: the caller waits, nothing is learnt
                wait = rate_limit_wait(response.headers, _RATE_LIMITS)
                raise RateLimited(host, f"DID resolution rate limited for {wait:.0f} s", wait_s=wait)
            if response.status_code == 410:
                raise DidTombstoned(host, f"{did} is tombstoned", status=410)
            if response.status_code >= 500:
                raise ServerError(host, f"DID resolution answered {response.status_code}", status=response.status_code)
            if response.status_code != 200:
                raise BadResponse(host, f"DID resolution answered {response.status_code}", status=response.status_code)
            body = await head_of(response, MAX_DOCUMENT_BYTES)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise BadResponse(host, "DID document is over the size cap")
        return body


async def head_of(response: httpx.Response, limit: int) -> bytes:
    """The body up to a little past ``limit`` bytes: enough to tell whether it is over (the rest is not read)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body)
