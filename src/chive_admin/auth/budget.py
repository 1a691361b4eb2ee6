"""What resolving issuers nobody here vouches for may cost: a few resolutions at once, and a global rate.

Anyone can put any DID in a token's ``iss``, and resolving it is work an unauthenticated request makes the server
do (a PLC request, a did:web fetch from any host). That work gets a budget of its own, so it can neither starve
the resolutions of admins and jobs nor turn the server into an amplifier against the PLC directory (whose rate
limit would then refuse the server's own resolutions). Past the budget a resolution is shed at once, not queued:
nothing waits behind a slow host.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: resolutions for unvouched issuers in flight at once (each is bounded by the DID-document deadline)
CONCURRENCY = 4
#: resolutions for unvouched issuers per second, over all of them, after a burst of ``BURST``
RATE = 2.0
BURST = 10


class BudgetExhausted(Exception):
    def __init__(self, why: str, retry_after: float) -> None:
        super().__init__(why)
        #: seconds after which the budget has room again (at least a second: a hint for Retry-After)
        self.retry_after = max(1.0, retry_after)


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``take`` spends one if there is one."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def wait(self) -> float:
        """Seconds until a token is there."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)


class ResolutionBudget:
    def __init__(
        self,
        *,
        concurrency: int = CONCURRENCY,
        rate: float = RATE,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency = concurrency
        self._bucket = TokenBucket(rate, burst, clock=clock)
        self._in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one resolution's place for the block; ``BudgetExhausted`` at once when there is none."""
        if self._in_flight >= self.concurrency:
            raise BudgetExhausted(f"{self.concurrency} resolutions for unknown issuers are in flight", 1.0)
        if not self._bucket.take():
            raise BudgetExhausted("resolutions for unknown issuers are over their rate", self._bucket.wait())
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
