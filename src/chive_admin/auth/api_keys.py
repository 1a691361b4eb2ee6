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
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store.db import Database
from chive_admin.ttl_cache import TtlCache

PREFIX = "ca_"
#: how long a key lookup (found or not) is trusted; a revocation from another process takes effect within this
CACHE_SECONDS = 5.0
#: key lookups kept at most: unknown keys sprayed at the server must not grow memory
MAX_CACHED = 10_000


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


@dataclass(frozen=True)
class _Lookup:
    """A cached lookup: the owner, or ``None`` for a key that is unknown or revoked."""

    owner: KeyOwner | None


class ApiKeyStore:
    def __init__(
        self, db: Database, *, cache_seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self._db = db
        self._cache: TtlCache[str, _Lookup] = TtlCache(MAX_CACHED, cache_seconds, clock=clock)
        #: key id -> last use, for keys that exist (so bounded by the keys table)
        self._used: dict[str, str] = {}

    async def owner(self, key: str) -> KeyOwner | None:
        """Who the key belongs to, or ``None`` for an unknown or revoked key."""
        digest = key_hash(key)
        cached = self._cache.get(digest)
        if cached is None:
            async with self._db.read() as conn:
                row = await api_keys_store.key_by_hash(conn, digest)
            cached = _Lookup(KeyOwner(row.id, row.did) if row is not None and row.revoked_at is None else None)
            self._cache.put(digest, cached)
        if cached.owner is not None:
            self._used[cached.owner.key_id] = now_stamp()
        return cached.owner

    def forget(self) -> None:
        """Drop cached lookups (after a revocation in this process)."""
        self._cache.clear()

    def take_used(self) -> dict[str, str]:
        """Last-use times gathered since the previous call, for one batched write."""
        used, self._used = self._used, {}
        return used
