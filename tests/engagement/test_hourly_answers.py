"""Hourly answers: computed once per key and hour, shared by concurrent first calls, served stale while the next
hour's answer is computed, bounded in keys, and a failed computation is not kept."""

from __future__ import annotations

import asyncio

import pytest

from chive_admin.engagement.hourly_answers import HourlyAnswers


class Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> int:
        self.calls += 1
        await self.gate.wait()
        return self.calls


async def test_concurrent_first_calls_share_one_computation() -> None:
    answers, compute = HourlyAnswers(), Counting()
    compute.gate.clear()
    calls = [asyncio.ensure_future(answers.get("k", 10, compute)) for _ in range(5)]
    await asyncio.sleep(0)
    compute.gate.set()
    assert await asyncio.gather(*calls) == [1] * 5
    assert compute.calls == 1
    assert await answers.get("k", 10, compute) == 1  # the same hour: kept
    assert await answers.get("k", 11, compute) == 1  # a new hour: the kept answer at once …
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert compute.calls == 2
    assert await answers.get("k", 11, compute) == 2  # … and the new one once computed


async def test_keys_are_bounded_and_failures_not_kept() -> None:
    answers, compute = HourlyAnswers(max_keys=2), Counting()
    for key in ("a", "b", "c"):
        await answers.get(key, 1, compute)
    assert await answers.get("a", 1, compute) == 4  # "a" was let go: computed again

    async def failing() -> int:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await answers.get("f", 1, failing)
    assert await answers.get("f", 1, compute) == 5


async def test_close_stops_the_computations_under_way() -> None:
    answers, compute = HourlyAnswers(), Counting()
    await answers.get("k", 1, compute)
    compute.gate.clear()
    assert await answers.get("k", 2, compute) == 1  # the new hour's computation waits on the gate
    await asyncio.sleep(0)
    await answers.close()
    compute.gate.set()
    assert await answers.get("k", 2, compute) == 1  # nothing was kept from the cancelled one; a new one starts
