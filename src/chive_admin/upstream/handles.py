"""Resolving a handle to the DID it names: DNS TXT ``_atproto.<handle>``, then HTTPS
``https://<handle>/.well-known/atproto-did``, then (only when the operator names one) a trusted resolver's
``com.atproto.identity.resolveHandle``.

A handle is named by a DID document anyone can write, so every way is bounded: the DNS lookup by its lifetime, the
HTTPS fetch by the guarded client (SSRF guard, no redirects), a total deadline and a size cap, the trusted resolver
by the upstream client's own deadline and retries. A handle under a special-use TLD (``.test``, ``.local``…) has no
public DNS or web host, so only the trusted resolver is asked about it. Any failure is "no DID": the caller then
stores no handle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import dns.asyncresolver
import dns.exception
import dns.rdtypes.ANY.TXT
import httpx

from chive_admin.lex.formats import validate_did
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.did_docs import head_of
from chive_admin.upstream.errors import UpstreamError
from chive_admin.upstream.transport import deadline

#: seconds each way (DNS, HTTPS) may take, all of it
DEADLINE_SECONDS = 5.0
#: a DID is at most 2 KiB; a well-known answer longer than this (whitespace aside) is refused unread
MAX_WELL_KNOWN_BYTES = 2048 + 64
#: TLDs no public resolver answers for (RFC 6761 and the atproto handle spec's disallowed ones)
SPECIAL_USE = (".test", ".local", ".localhost", ".invalid", ".example", ".internal", ".arpa", ".onion", ".alt")

#: the TXT strings of a name (empty when it has none)
TxtLookup = Callable[[str, float], Awaitable[list[bytes]]]


async def dns_txt(name: str, lifetime: float) -> list[bytes]:
    """The TXT records of ``name`` from the system's resolvers, each record's strings joined."""
    try:
        answer = await dns.asyncresolver.resolve(name, "TXT", lifetime=lifetime)
    except dns.exception.DNSException:
        return []
    return [b"".join(r.strings) for r in answer if isinstance(r, dns.rdtypes.ANY.TXT.TXT)]


def well_known_url(handle: str) -> str:
    return f"https://{handle}/.well-known/atproto-did"


def _did(text: str) -> str | None:
    try:
        return validate_did(text)
    except ValueError:
        return None


class HandleResolver:
    def __init__(
        self,
        http: httpx.AsyncClient,
        client: AtprotoClient,
        *,
        trusted: str | None = None,
        deadline: float = DEADLINE_SECONDS,
        txt: TxtLookup = dns_txt,
        well_known: Callable[[str], str] = well_known_url,
    ) -> None:
        self._http = http
        self._client = client
        self.trusted = trusted
        self.deadline = deadline
        self._txt = txt
        self._well_known = well_known

    async def resolve(self, handle: str) -> str | None:
        """The DID ``handle`` (lowercase, syntax checked) names, or ``None`` when no way says one."""
        if not handle.endswith(SPECIAL_USE):
            found = await self._by_dns(handle) or await self._by_https(handle)
            if found is not None:
                return found
        if self.trusted is None:
            return None
        try:
            return await self._client.resolve_handle(self.trusted, handle)
        except UpstreamError:
            return None

    async def _by_dns(self, handle: str) -> str | None:
        dids = [t[4:] for t in await self._txt(f"_atproto.{handle}", self.deadline) if t.startswith(b"did=")]
        # more than one is a misconfiguration the spec says to treat as none
        return _did(dids[0].decode("ascii", "replace")) if len(dids) == 1 else None

    async def _by_https(self, handle: str) -> str | None:
        headers = {"Accept": "text/plain", "Accept-Encoding": "identity"}
        try:
            async with asyncio.timeout(self.deadline):
                request = self._http.stream(
                    "GET", self._well_known(handle), headers=headers, extensions=deadline(self.deadline)
                )
                async with request as response:
                    if response.status_code != 200:
                        return None
                    body = await head_of(response, MAX_WELL_KNOWN_BYTES)
        except (TimeoutError, httpx.HTTPError, UpstreamError, ValueError):
            return None
        if len(body) > MAX_WELL_KNOWN_BYTES:
            return None
        return _did(body.decode("ascii", "replace").strip())
