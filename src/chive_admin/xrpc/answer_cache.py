"""Recent answers of a polled query (getBackfillStatus: the listings, and one op by id), shared by concurrent pollers.

Dashboards and CLIs poll the active list every second, and rendering it costs per listed op; under load the same
list is rendered hundreds of times a second. An answer is reused while no operation changed state in this process
(the engine calls :meth:`changed` after each such commit; only this process writes operations, the owner lock sees
to that) and for at most ``max_age`` seconds, since progress counters move without a state change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from chive_admin.ttl_cache import TtlCache

T = TypeVar("T")

MAX_AGE_SECONDS = 0.25


class AnswerCache:
    #: ids polled by clients are few; past this many kept answers, the least recently used is let go
    MAX_ENTRIES = 1024

    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._generation = 0
        self._entries: TtlCache[Hashable, Any] = TtlCache(self.MAX_ENTRIES, max_age)

    def changed(self) -> None:
        """An operation was created, claimed, cancelled, ended, released or pruned: every kept answer is stale."""
        self._generation += 1
        self._entries.clear()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        kept = self._entries.get(key)
        if kept is not None:
            value: T = kept
            return value
        generation = self._generation
        loaded = await load()
        if generation == self._generation:  # a change during the load: the answer may predate it, keep nothing
            self._entries.put(key, loaded)
        return loaded
