"""Recent answers of getBackfillStatus (the listings, and one op by id), shared by concurrent pollers.

Dashboards and CLIs poll the active list every second, and rendering it costs per listed op; under load the same
list is rendered hundreds of times a second. An answer is reused while no operation changed state in this process
(the engine calls :meth:`changed` after each such commit; only this process writes operations, the owner lock sees
to that) and for at most ``max_age`` seconds, since progress counters move without a state change.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_AGE_SECONDS = 0.25


class ListingCache:
    #: ids polled by clients are few; past this many kept answers, the oldest half is let go
    MAX_ENTRIES = 1024

    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._generation = 0
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}

    def changed(self) -> None:
        """An operation was created, claimed, cancelled, ended, released or pruned: every kept answer is stale."""
        self._generation += 1
        self._entries.clear()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        kept = self._entries.get(key)
        if kept is not None and kept[0] == self._generation and now - kept[1] <= self.max_age:
            value: T = kept[2]
            return value
        generation = self._generation
        loaded = await load()
        if generation == self._generation:  # a change during the load: the answer may predate it, keep nothing
            if len(self._entries) >= self.MAX_ENTRIES:  # any id can be asked for: the memory stays bounded
                for old in list(self._entries)[: self.MAX_ENTRIES // 2]:
                    del self._entries[old]
            self._entries[key] = (generation, now, loaded)
        return loaded
