"""Generic async helpers of the ingest path: read-ahead, bounded concurrency, a blocking iterator stepped on threads.

- :func:`prefetched` reads one item ahead of an async iterator, so the next upstream page is fetched while this one
  is written. A listing is otherwise strictly alternating: the PDS idles while we validate and commit a page, and we
  idle while it serves the next. Only one fetch is ever ahead (memory stays one page), and the consumer sees items,
  errors and the end in the source's order: an error fetching page n+1 surfaces after page n was handed over.
- :func:`run_bounded` runs a job's items concurrently, at most ``limit`` at a time, stopping all of them at the first
  exception.
- :func:`iterate_in_thread` steps a blocking iterator on worker threads, one item at a time. A repository export read
  on a thread (``--export-readers 0``) is parsed part by part off the event loop, and each part is written before
  the next is parsed: parsing does not overlap writing on purpose, since both need the GIL (SQLite binds every row
  under it) and a parser thread beside the writer made the whole sync slower (``bench.profile_ingest`` shows it).
  Memory stays one part whatever the repository's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class End:
    """What :func:`next_or_end` gives once the source is exhausted."""


END = End()


async def next_or_end(source: AsyncIterator[T]) -> T | End:
    """The next item of ``source``, or ``END``: a task must not end in StopAsyncIteration (asyncio would wrap it)."""
    try:
        return await anext(source)
    except StopAsyncIteration:
        return END


async def prefetched(source: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The items of ``source``, the next one already requested while the consumer works on the current one.

    Use it under ``contextlib.aclosing`` so a consumer that stops early cancels the fetch in flight at once.
    """
    ahead: asyncio.Task[T | End] = asyncio.ensure_future(next_or_end(source))
    try:
        while True:
            item = await ahead
            if isinstance(item, End):
                return
            ahead = asyncio.ensure_future(next_or_end(source))
            yield item
    finally:
        if not ahead.done():
            ahead.cancel()
        await asyncio.wait([ahead])  # not ``await ahead``: its error belongs to a page nobody will read
        if not ahead.cancelled():
            ahead.exception()  # retrieved, so asyncio does not log it as lost
        closer = getattr(source, "aclose", None)
        if closer is not None:
            await closer()


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
            # FIRST_COMPLETED, not FIRST_EXCEPTION: that one waits for every task when none fails, so the items ran
            # in waves of ``limit``, each wave as long as its slowest item (a scan's slots idled while a few repos
            # finished)
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
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


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
    """The items of ``make()``, each one produced on a worker thread; its exception is raised here, in order.

    Use it under ``contextlib.aclosing``: a consumer that stops early (or is cancelled) has the iterator closed
    once the step in flight, if any, has finished (a generator cannot be closed while it runs).
    """
    loop = asyncio.get_running_loop()
    items: Iterator[T] | None = None
    step: asyncio.Future[T | End] | None = None

    try:
        items = await loop.run_in_executor(None, make)
        while True:
            step = loop.run_in_executor(None, next, items, END)
            item = await asyncio.shield(step)
            if isinstance(item, End):
                return
            yield item
    finally:
        if step is not None and not step.done():
            await asyncio.wait([step])
            if not step.cancelled():
                step.exception()  # its error belongs to an item nobody will read
        close = getattr(items, "close", None)
        if close is not None:
            await loop.run_in_executor(None, close)
