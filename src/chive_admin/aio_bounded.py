"""Running a job's items concurrently, at most ``limit`` at a time, stopping all of them at the first exception."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def run_bounded(items: Iterable[T], work: Callable[[T], Awaitable[None]], limit: int) -> None:
    """``work(item)`` for every item, ``limit`` at once; the first exception cancels the rest and is re-raised as is
    (not wrapped in an ExceptionGroup), so a ``Stop`` from a batch reaches the engine unchanged."""
    pending: set[asyncio.Task[None]] = set()
    source = iter(items)
    try:
        while True:
            while len(pending) < limit:
                item = next(source, _END)
                if item is _END:
                    break
                pending.add(asyncio.create_task(work(item)))  # type: ignore[arg-type]
            if not pending:
                return
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


_END = object()
