"""Per-host limits and health: bounded concurrency, 429 cooldowns, and a breaker for hosts that keep failing.

State is per process and per host (scheme + authority), shared by every job, so two operations scanning the same
PDS together still respect its limits.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chive_admin.settings import DEFAULT_UPSTREAM_CONCURRENCY
from chive_admin.upstream.errors import HostUnhealthy


@dataclass(frozen=True)
class HostLimits:
    #: requests in flight to one host at once
    concurrency: int = DEFAULT_UPSTREAM_CONCURRENCY
    #: consecutive failures (after retries) that open the breaker
    failures_to_trip: int = 5
    #: how long an open breaker refuses calls before letting one through to probe
    open_seconds: float = 30.0


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    cooldown_until: float = 0.0
    streak: int = 0
    open_until: float = 0.0
    last_error: str | None = field(default=None)


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class HostPolicy:
    def __init__(self, limits: HostLimits | None = None) -> None:
        self.limits = limits or HostLimits()
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(asyncio.Semaphore(self.limits.concurrency))
        return state

    def check_open(self, host: str) -> None:
        """Refuse at once while the breaker is open, so a dead host costs nothing to the items still queued."""
        state = self._state(host)
        if state.open_until > time.monotonic():
            raise HostUnhealthy(host, f"{host} failed {state.streak} times in a row; not retrying yet")

    async def acquire(self, host: str) -> None:
        """Take a concurrency slot for one request, after any 429 cooldown the host asked for; ``release`` it when
        the host has answered."""
        state = self._state(host)
        await state.semaphore.acquire()
        try:
            wait = state.cooldown_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            state.semaphore.release()
            raise

    def release(self, host: str) -> None:
        self._state(host).semaphore.release()

    def cooldown(self, host: str, seconds: float) -> None:
        state = self._state(host)
        state.cooldown_until = max(state.cooldown_until, time.monotonic() + seconds)

    def succeeded(self, host: str) -> None:
        state = self._state(host)
        state.streak = 0
        state.open_until = 0.0
        state.last_error = None

    def failed(self, host: str, error: str) -> None:
        state = self._state(host)
        state.streak += 1
        state.last_error = error
        if state.streak >= self.limits.failures_to_trip:
            state.open_until = time.monotonic() + self.limits.open_seconds

    def is_healthy(self, host: str) -> bool:
        return self._state(host).open_until <= time.monotonic()
