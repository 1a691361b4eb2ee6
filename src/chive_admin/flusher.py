"""A background task that writes a buffer in batches: every ``seconds``, or at once when the buffer asks
(:meth:`Flusher.due`), and a last time when stopped. The buffer's own ``flush`` keeps what it could not write."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from chive_admin.store.db import is_transient


class Flusher:
    def __init__(self, flush: Callable[[], Awaitable[None]], seconds: float, name: str, log: logging.Logger) -> None:
        self._flush = flush
        self._seconds = seconds
        self._name = name
        self._log = log
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def due(self) -> None:
        """Flush now rather than at the next tick (the buffer is full enough)."""
        self._due.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop the task, then flush once more (raising what that flush raises)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self._seconds)
            self._due.clear()
            try:
                await self._flush()
            except Exception as exc:
                if not is_transient(exc):
                    self._log.exception("%s failed; what it held is kept for the next attempt", self._name)
                else:  # the database is away or full: a line, not a traceback every tick until it is back
                    self._log.warning("%s failed (%s); what it held is kept for the next attempt", self._name, exc)
