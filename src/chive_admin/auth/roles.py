"""Roles: bootstrap admins from configuration, the rest from the roles table, cached briefly in-process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from chive_admin.store import access
from chive_admin.store.db import Database

#: knownValues of assignRole/revokeRole
ROLES = ("admin", "moderator", "graph-editor", "author", "reader", "alpha-tester", "premium")
CACHE_SECONDS = 5.0


class RoleBook:
    def __init__(
        self,
        db: Database,
        bootstrap_admins: Iterable[str],
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.bootstrap_admins = frozenset(bootstrap_admins)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def roles_of(self, did: str) -> frozenset[str]:
        cached = self._cache.get(did)
        if cached is None or cached[0] <= self._clock():
            async with self._db.read() as conn:
                held = await access.roles_of(conn, did)
            if did in self.bootstrap_admins:
                held |= {"admin"}
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = (self._clock() + self._cache_seconds, held)
            self._cache[did] = cached
        return cached[1]

    def changed(self, did: str) -> None:
        self._cache.pop(did, None)
