"""Verified handles: what ``repos.handle`` holds.

A DID document claims a handle (its ``alsoKnownAs`` at:// entry); the claim holds only when the handle resolves back
to the same DID (:class:`~chive_admin.upstream.handles.HandleResolver`). Anything else (no claim, a claim that is no
valid handle, one that resolves nowhere or to another DID) is no handle, never the claimed one. Resolutions are
cached like identities (:mod:`chive_admin.auth.identity`): bounded in number, a lifetime for what resolved and a
short one for what did not, so a handle set up a moment after a failed sync verifies at the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chive_admin.auth.identity import DEFAULT_NEGATIVE_TTL, DEFAULT_TTL, MAX_IDENTITIES
from chive_admin.lex.formats import validate_handle
from chive_admin.ttl_cache import TtlCache
from chive_admin.upstream.handles import HandleResolver

#: what the cache keeps for a handle that names no DID
_NONE = ""


class HandleVerifier:
    def __init__(
        self,
        resolver: HandleResolver,
        *,
        ttl: float = DEFAULT_TTL,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        max_entries: int = MAX_IDENTITIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolver = resolver
        self._negative_ttl = negative_ttl
        #: handle -> the DID it resolved to (``_NONE``: none)
        self._cache: TtlCache[str, str] = TtlCache(max_entries, ttl, clock=clock)

    async def verified(self, did: str, claimed: str | None, *, fresh: bool = False) -> str | None:
        """``claimed`` (lowercased) when it resolves back to ``did``; else ``None``. ``fresh`` resolves it again
        whatever is cached (a did-sync: a handle that moved away a minute ago must not stay)."""
        if claimed is None:
            return None
        try:
            handle = validate_handle(claimed.lower())
        except ValueError:
            return None
        named = None if fresh else self._cache.get(handle)
        if named is None:
            named = await self.resolver.resolve(handle) or _NONE
            self._cache.put(handle, named, ttl=None if named else self._negative_ttl)
        return handle if named == did else None

    def __len__(self) -> int:
        return len(self._cache)
