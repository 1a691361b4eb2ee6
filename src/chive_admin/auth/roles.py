"""Roles: bootstrap admins from configuration, the rest from the roles table, cached briefly in-process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from chive_admin.store import roles as roles_store
from chive_admin.store.db import Database
from chive_admin.ttl_cache import TtlCache

#: the role of a deployment's front end or proxy: it may record engagement events (pub.chive.metrics.record*)
#: and nothing else
METRICS_WRITER = "metrics-writer"
#: knownValues of assignRole/revokeRole, and ours
ROLES = ("admin", "moderator", "graph-editor", "author", "reader", "alpha-tester", "premium", METRICS_WRITER)
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
                held = self.effective(did, await roles_store.roles_of(conn, did))
            self._cache.put(did, held)
        return held

    def effective(self, did: str, granted: Iterable[str]) -> frozenset[str]:
        """The roles ``did`` holds, given those the roles table grants it: a bootstrap admin is admin whatever the
        table says (the one place that rule is written; callers that read the table in bulk apply it here)."""
        held = frozenset(granted)
        return held | {"admin"} if did in self.bootstrap_admins else held

    def changed(self, did: str) -> None:
        self._cache.pop(did)
