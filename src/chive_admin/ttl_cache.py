"""The one in-process cache: every entry has a lifetime, and past ``max_entries`` the least recently used goes first.

Every cache of the server is one of these, so nothing an outsider can name (a DID, an API key, a client address)
grows memory without bound, and nothing is trusted past its lifetime. An expired entry is dropped when it is next
looked at, or pushed out by newer ones; there is no sweeper task.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, max_entries: int, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("a cache holds at least one entry")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        #: key -> (expires at, value), least recently used first
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value of ``key`` (now the most recently used), or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, *, ttl: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` seconds (the cache's own by default), evicting the least recently used."""
        self._entries[key] = (self._clock() + (self.ttl if ttl is None else ttl), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
