"""Throttling of failed authentication, per client address.

An address that failed ``limit`` times within a window of ``window`` seconds is throttled until the window ends: it
is answered 429 ``RateLimitExceeded`` (with ``Retry-After`` and the ``RateLimit-*`` headers) instead of 401, and the
work no valid credential needs is skipped for it. A valid credential is never refused for it: an API key is always
looked up (a hash and an indexed read), and a service-auth token of an issuer that holds a role here is always
verified (its key is cached). What a throttled address no longer gets is the costly part, resolving an issuer
nobody here vouches for; such a token is answered 429 before any resolution, valid or not (without a role it could
not have been allowed anything).

Addresses live in a bounded table, least recently used first out; an IPv6 address counts for its /64, which one
host usually holds whole.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

from chive_admin.ttl_cache import TtlCache
from chive_admin.xrpc.errors import XRPCError

#: failed authentications one address may have in a window before it is throttled for the rest of it
LIMIT = 30
WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


@dataclass
class _Window:
    ends_at: float
    failures: int = 0


def address_key(address: str | None) -> str:
    """The unit throttled: an IPv4 address, an IPv6 /64, or whatever else the server saw (bounded in length)."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class FailureThrottle:
    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: TtlCache[str, _Window] = TtlCache(max_addresses, window, clock=clock)

    def failed(self, address: str | None) -> None:
        key = address_key(address)
        current = self._windows.get(key)
        if current is None:
            current = _Window(self._clock() + self.window)
            self._windows.put(key, current)
        current.failures += 1

    def refusal(self, address: str | None) -> XRPCError | None:
        """The 429 to answer ``address`` with while it is throttled, else ``None``."""
        current = self._windows.get(address_key(address))
        if current is None or current.failures < self.limit:
            return None
        error = XRPCError.rate_limited(
            "Too many failed authentications from this address; try again later",
            limit=self.limit,
            reset_in=current.ends_at - self._clock(),
        )
        error.reason = "throttled"
        return error
