"""iterate_in_thread: order, errors, no read-ahead, and a consumer that stops early closing the iterator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import aclosing

import pytest

from chive_admin.aio_threaded import iterate_in_thread


async def test_items_come_in_order_and_off_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def make() -> Iterator[int]:
        for i in range(50):
            threads.add(threading.get_ident())
            yield i

    async with aclosing(iterate_in_thread(make)) as items:
        assert [i async for i in items] == list(range(50))
    assert threads
    assert loop_thread not in threads


async def test_an_error_comes_after_the_items_before_it() -> None:
    def make() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken at 3")

    got: list[int] = []

    async def consume() -> None:
        async with aclosing(iterate_in_thread(make)) as items:
            async for i in items:
                got.append(i)

    with pytest.raises(ValueError, match="broken at 3"):
        await consume()
    assert got == [1, 2]


async def test_nothing_is_produced_ahead_of_the_consumer() -> None:
    # parsing the next part must not run while this one is written: both need the GIL
    produced = 0

    def make() -> Iterator[int]:
        nonlocal produced
        for i in range(100):
            produced += 1
            yield i

    async with aclosing(iterate_in_thread(make)) as items:
        first = await anext(items)
        await asyncio.sleep(0.2)
        assert (first, produced) == (0, 1)
        await anext(items)
        assert produced == 2


async def test_stopping_early_stops_and_closes_the_producer() -> None:
    closed = threading.Event()

    def make() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    async with aclosing(iterate_in_thread(make)) as items:
        async for i in items:
            if i == 5:
                break
    assert closed.wait(2)


async def test_cancelling_the_consumer_stops_the_producer() -> None:
    closed = threading.Event()
    started = asyncio.Event()

    def make() -> Iterator[int]:
        try:
            while True:
                yield 0
        finally:
            closed.set()

    async def consume() -> None:
        async with aclosing(iterate_in_thread(make)) as items:
            async for _ in items:
                started.set()
                await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed.wait(2)
