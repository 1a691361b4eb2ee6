"""Iterating a blocking iterator on a worker thread, a bounded number of items ahead of an async consumer.

A repository export is parsed (hashing, DAG-CBOR, validation) on a thread while the event loop commits the batches
already parsed; the database writer's thread releases the GIL in SQLite, so parsing and writing overlap instead of
taking turns. At most ``ahead`` items wait unconsumed, so memory stays a few batches whatever the repository's size.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: how often a producer blocked on a full queue looks whether the consumer has gone
_POLL_SECONDS = 0.05


class _End:
    pass


async def iterate_in_thread(make: Callable[[], Iterator[T]], *, ahead: int = 2) -> AsyncGenerator[T, None]:
    """The items of ``make()``, produced on a worker thread; its exception is raised here, in order.

    Use it under ``contextlib.aclosing``: a consumer that stops early (or is cancelled) stops the thread, which
    ends within ``_POLL_SECONDS`` of its current item.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[T | _End | BaseException] = asyncio.Queue()
    slots = threading.Semaphore(ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in make():
                while not slots.acquire(timeout=_POLL_SECONDS):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                loop.call_soon_threadsafe(queue.put_nowait, item)
            loop.call_soon_threadsafe(queue.put_nowait, _End())
        except BaseException as exc:  # handed to the consumer, who raises it in its own task
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, exc)

    worker = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while True:
            item = await queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            slots.release()
            yield item
    finally:
        stop.set()
        await asyncio.shield(worker)
