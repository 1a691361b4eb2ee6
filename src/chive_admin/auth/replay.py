"""The ``jti`` of every accepted service-auth token, kept until the token expires, so that each is used once.

Only tokens that passed authorization are remembered (the authenticator spends a jti after the role check), so a
stranger's tokens, signed or not, cost nothing here. Even so the set is bounded, in all and per issuer: when a
bound is reached a new token is refused (``ReplayFull``) rather than an unexpired jti forgotten, since forgetting
one would let its token be replayed. Expired entries are always dropped first.

The interface is one awaitable call: :class:`ReplayCache` keeps the set in memory, for a server that owns its
database (SQLite); :class:`SharedReplayCache` keeps it in the database, for processes that share one (PostgreSQL),
so that a token used on one process is refused as replayed on every other.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from chive_admin.store import replay as replay_store
from chive_admin.store.db import Database

#: jti values remembered at most, over all issuers
MAX_ENTRIES = 20_000
#: jti values remembered at most for one issuer: one admin's script cannot fill the set for the others
MAX_PER_ISSUER = 2_000


class ReplayFull(Exception):
    def __init__(self, message: str, *, limit: int, retry_after: float, per_issuer: bool) -> None:
        super().__init__(message)
        self.limit = limit
        #: seconds until the earliest remembered token (of the issuer, when ``per_issuer``) expires
        self.retry_after = max(1.0, retry_after)
        self.per_issuer = per_issuer

    @classmethod
    def of_issuer(cls, limit: int, retry_after: float) -> ReplayFull:
        return cls(
            f"{limit} unexpired tokens of this issuer are in use", limit=limit, retry_after=retry_after, per_issuer=True
        )

    @classmethod
    def of_everyone(cls, limit: int, retry_after: float) -> ReplayFull:
        return cls(f"{limit} unexpired tokens are in use", limit=limit, retry_after=retry_after, per_issuer=False)


class Replay(Protocol):
    async def first_use(self, issuer: str, jti: str, expires_at: float) -> bool: ...


class ReplayCache:
    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_per_issuer: int = MAX_PER_ISSUER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self.max_per_issuer = max_per_issuer
        self._clock = clock
        self._expires: dict[tuple[str, str], float] = {}
        #: (expires at, issuer, jti), soonest first: expired entries are dropped from the front
        self._queue: list[tuple[float, str, str]] = []
        self._per_issuer: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._expires)

    async def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Remember ``jti`` of ``issuer`` until ``expires_at`` (epoch seconds); ``False`` if it was seen before.
        ``ReplayFull`` when a bound leaves no room."""
        now = self._clock()
        self._drop_expired(now)
        key = (issuer, jti)
        if key in self._expires:
            return False
        if self._per_issuer[issuer] >= self.max_per_issuer:
            soonest = min(at for (who, _), at in self._expires.items() if who == issuer)
            raise ReplayFull.of_issuer(self.max_per_issuer, soonest - now)
        if len(self._expires) >= self.max_entries:
            raise ReplayFull.of_everyone(self.max_entries, self._queue[0][0] - now)
        self._expires[key] = expires_at
        heapq.heappush(self._queue, (expires_at, issuer, jti))
        self._per_issuer[issuer] += 1
        return True

    def _drop_expired(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            _, issuer, jti = heapq.heappop(self._queue)
            del self._expires[(issuer, jti)]
            self._per_issuer[issuer] -= 1
            if not self._per_issuer[issuer]:
                del self._per_issuer[issuer]


class SharedReplayCache:
    """The same set and bounds as :class:`ReplayCache`, in the database every process shares: one write
    transaction per accepted token."""

    def __init__(
        self,
        db: Database,
        *,
        max_entries: int = MAX_ENTRIES,
        max_per_issuer: int = MAX_PER_ISSUER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.max_entries = max_entries
        self.max_per_issuer = max_per_issuer
        self._clock = clock

    async def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = self._clock()
        async with self._db.write() as conn:
            found = await replay_store.remember(
                conn,
                issuer,
                jti,
                expires_at,
                now,
                max_entries=self.max_entries,
                max_per_issuer=self.max_per_issuer,
            )
        if found.use is replay_store.Use.ISSUER_FULL:
            raise ReplayFull.of_issuer(self.max_per_issuer, (found.soonest_expiry or now) - now)
        if found.use is replay_store.Use.FULL:
            raise ReplayFull.of_everyone(self.max_entries, (found.soonest_expiry or now) - now)
        return found.use is replay_store.Use.FIRST
