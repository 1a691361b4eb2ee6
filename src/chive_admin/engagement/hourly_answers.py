"""Answers that change only when an hour ends, computed once an hour and served from memory meanwhile.

Trending and the overview rank every eprint with views in their windows: at 100,000 eprints that is seconds of
database work, too much for each call. Their windows end with the last complete hour, so an answer holds until the
next hour ends. A call in a new hour gets the previous hour's answer at once while one task computes the new one
(stale while revalidate): only the very first call of a key waits. Concurrent calls of a key share one computation.
At most ``MAX_KEYS`` keys are kept (their keys are the methods' few parameter values), the least recently used let go.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_KEYS = 256


@dataclass
class _Entry:
    hour: int
    value: Any
    refreshing: asyncio.Task[None] | None = None


class HourlyAnswers:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._first: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, hour: int, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer of ``key`` for ``hour`` (the last complete hour), or the latest one kept while it is computed."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            if entry.hour < hour and (entry.refreshing is None or entry.refreshing.done()):
                entry.refreshing = asyncio.create_task(self._refresh(key, hour, compute), name="hourly-answer")
            value: T = entry.value
            return value
        pending = self._first.get(key)
        if pending is not None:
            shared: T = await asyncio.shield(pending)
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._first[key] = future
        try:
            computed = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters (if any) raise it, nobody logs it as lost
            raise
        else:
            future.set_result(computed)
            self._keep(key, _Entry(hour, computed))
            return computed
        finally:
            del self._first[key]

    async def _refresh(self, key: Hashable, hour: int, compute: Callable[[], Awaitable[Any]]) -> None:
        try:
            value = await compute()
        except Exception:  # the kept answer stays; the next call tries again
            log.exception("recomputing an hourly answer failed")
            return
        self._keep(key, _Entry(hour, value))

    def _keep(self, key: Hashable, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        """Stop the computations under way (the server is stopping: their database is about to close)."""
        tasks = [e.refreshing for e in self._entries.values() if e.refreshing is not None and not e.refreshing.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def clear(self) -> None:
        """Forget every answer (tests that rewrite the history)."""
        self._entries.clear()
