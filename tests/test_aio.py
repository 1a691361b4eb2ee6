from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from chive_admin.aio import prefetched


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
