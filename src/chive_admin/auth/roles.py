"""Roles: bootstrap admins from configuration, the rest from the roles table, cached briefly in-process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from chive_admin.store import roles as roles_store
from chive_admin.store.db import Database
from chive_admin.ttl_cache import TtlCache

#: knownValues of assignRole/revokeRole
ROLES = ("admin", "moderator", "graph-editor", "author", "reader", "alpha-tester", "premium")
CACHE_SECONDS = 5.0
#: DIDs whose roles are kept at most: every token names one, whoever sent it
MAX_CACHED = 10_000


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
        self._cache: TtlCache[str, frozenset[str]] = TtlCache(MAX_CACHED, cache_seconds, clock=clock)

    async def roles_of(self, did: str) -> frozenset[str]:
        held = self._cache.get(did)
        if held is None:
            async with self._db.read() as conn:
                held = await roles_store.roles_of(conn, did)
            if did in self.bootstrap_admins:
                held |= {"admin"}
            self._cache.put(did, held)
        return held

    def changed(self, did: str) -> None:
        self._cache.pop(did)
