"""chive_admin.aio: read-ahead order and cancellation, bounded concurrency, a blocking iterator on threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import pytest

from chive_admin.aio import iterate_in_thread, prefetched, run_bounded


class Source:
    """Pages 0..n-1, each fetch taking one event-loop turn of its own; records what happened in order."""

    def __init__(self, n: int, *, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at
        self.log: list[str] = []

    async def pages(self) -> AsyncIterator[int]:
        try:
            for i in range(self.n):
                self.log.append(f"fetch {i}")
                await asyncio.sleep(0.001)
                if i == self.fail_at:
                    raise ValueError(i)
                self.log.append(f"fetched {i}")
                yield i
        finally:
            self.log.append("closed")


async def test_every_item_in_order_the_next_fetched_while_the_current_is_used() -> None:
    source = Source(3)
    seen = []
    async with aclosing(prefetched(source.pages())) as pages:
        async for page in pages:
            await asyncio.sleep(0.01)  # the consumer's own work: the next fetch runs meanwhile
            seen.append(page)
            source.log.append(f"used {page}")
    assert seen == [0, 1, 2]
    assert source.log.index("fetched 1") < source.log.index("used 0")
    assert source.log.index("fetched 2") < source.log.index("used 1")
    assert source.log.count("closed") == 1


async def test_an_error_fetching_the_next_item_comes_after_the_current_one() -> None:
    source = Source(5, fail_at=2)
    seen: list[int] = []

    async def consume() -> None:
        async with aclosing(prefetched(source.pages())) as pages:
            async for page in pages:
                seen.append(page)

    with pytest.raises(ValueError, match="2"):
        await consume()
    assert seen == [0, 1]
    assert source.log[-1] == "closed"


async def test_a_consumer_that_stops_early_cancels_the_fetch_in_flight() -> None:
    source = Source(100)

    async def consume() -> None:
        async with aclosing(prefetched(source.pages())) as pages:
            async for page in pages:
                if page == 1:
                    await asyncio.sleep(0)  # let the fetch of page 2 start
                    raise KeyError("stop")

    with pytest.raises(KeyError):
        await consume()
    assert "fetch 2" in source.log
    assert "fetched 2" not in source.log  # cancelled mid-fetch, never handed over
    assert source.log[-1] == "closed"
    assert len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()]) == 0


async def test_an_empty_source_ends_at_once() -> None:
    source = Source(0)
    async with aclosing(prefetched(source.pages())) as pages:
        assert [page async for page in pages] == []


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


async def test_run_bounded_keeps_at_most_limit_running_and_does_every_item() -> None:
    running = 0
    peak = 0
    done: list[int] = []

    async def work(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1
        done.append(item)

    await run_bounded(range(20), work, limit=3)
    assert sorted(done) == list(range(20))
    assert peak == 3


async def test_run_bounded_starts_the_next_item_as_soon_as_one_ends() -> None:
    # the first item ends only once every other one has run beside it: items in waves of ``limit`` would deadlock
    others_done = asyncio.Event()
    done: list[int] = []

    async def work(item: int) -> None:
        if item == 0:
            await others_done.wait()
        done.append(item)
        if len(done) == 5:
            others_done.set()

    async with asyncio.timeout(30):  # a deadlock fails, it does not hang the suite
        await run_bounded(range(6), work, limit=2)
    assert done == [1, 2, 3, 4, 5, 0]


async def test_run_bounded_raises_the_first_error_as_is_and_cancels_the_rest() -> None:
    cancelled: list[int] = []

    async def work(item: int) -> None:
        if item == 0:
            raise KeyError("first")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise

    with pytest.raises(KeyError, match="first"):
        await run_bounded(range(4), work, limit=4)
    assert sorted(cancelled) == [1, 2, 3]
