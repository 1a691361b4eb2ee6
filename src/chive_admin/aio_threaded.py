"""Stepping a blocking iterator on worker threads, one item at a time, from an async consumer.

A repository export is parsed (hashing, DAG-CBOR, validation) part by part off the event loop, and each part is
written before the next is parsed. Parsing does not overlap writing on purpose: both need the GIL (SQLite binds
every row under it), and measured on a 5,000-record export, letting a parser thread run beside the writer made the
whole sync slower (0.47-0.54 s of parse-and-write instead of 0.41-0.45 s), as the two kept taking the GIL from each
other. Memory stays one part whatever the repository's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

from chive_admin.aio import END, End

T = TypeVar("T")


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
