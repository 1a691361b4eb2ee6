"""API keys: ``ca_`` + 256 random bits, stored as SHA-256 only; lookups cached briefly, last use written in batches.

Comparing hashes (in the database's unique index) rather than keys means timing reveals nothing usable: an
attacker would learn prefixes of a SHA-256, not of the key.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ulid import ULID

from chive_admin.clock import now_stamp
from chive_admin.store import access
from chive_admin.store.db import Database

PREFIX = "ca_"
#: how long a key lookup (found or not) is trusted; a revocation from another process takes effect within this
CACHE_SECONDS = 5.0


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key_id() -> str:
    return "k" + str(ULID()).lower()


@dataclass(frozen=True)
class KeyOwner:
    key_id: str
    did: str


class ApiKeyStore:
    def __init__(
        self, db: Database, *, cache_seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self._db = db
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyOwner | None]] = {}
        self._used: dict[str, str] = {}

    async def owner(self, key: str) -> KeyOwner | None:
        """Who the key belongs to, or ``None`` for an unknown or revoked key."""
        digest = key_hash(key)
        cached = self._cache.get(digest)
        if cached is None or cached[0] <= self._clock():
            async with self._db.read() as conn:
                row = await access.key_by_hash(conn, digest)
            found = KeyOwner(row.id, row.did) if row is not None and row.revoked_at is None else None
            if len(self._cache) > 10_000:  # unknown keys sprayed at us must not grow this without bound
                self._cache.clear()
            cached = (self._clock() + self._cache_seconds, found)
            self._cache[digest] = cached
        if cached[1] is not None:
            self._used[cached[1].key_id] = now_stamp()
        return cached[1]

    def forget(self) -> None:
        """Drop cached lookups (after a revocation in this process)."""
        self._cache.clear()

    def take_used(self) -> dict[str, str]:
        """Last-use times gathered since the previous call, for one batched write."""
        used, self._used = self._used, {}
        return used
