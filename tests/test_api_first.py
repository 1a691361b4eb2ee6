"""Backfill steps wait while a request is being answered, for a bounded time."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref

import pytest

from chive_admin import api_first
from chive_admin.api_first import answering


def backfill_step() -> asyncio.Task[None]:
    """``api_first`` as a job's worker calls it: from a task no request started (a fresh context)."""
    return asyncio.create_task(api_first.api_first(), context=contextvars.Context())


async def settled(task: asyncio.Task[None]) -> bool:
    """Whether ``task`` finishes once every ready callback has run (a few loop turns, no clock)."""
    for _ in range(5):
        await asyncio.sleep(0)
    return task.done()


async def test_nothing_in_flight_means_no_wait() -> None:
    assert await settled(backfill_step())


async def test_a_step_waits_for_the_last_request_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_first, "HOLD", 60.0)  # only the requests' end releases it here
    with answering():
        with answering():
            step = backfill_step()
            assert not await settled(step)
        assert not await settled(step)  # one request still in flight
    assert await settled(step)


async def test_a_hold_that_runs_out_leaves_the_gate_open_as_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_first, "HOLD", 0.05)
    with answering():
        # a request that never ends holds a step for HOLD, not for ever
        held = backfill_step()
        assert not await settled(held)
        await asyncio.wait_for(held, 30)
        # and the next step, right after, does not wait at all: a steady stream of requests never stops a backfill
        assert await settled(backfill_step())


async def test_a_requests_own_work_is_never_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_first, "HOLD", 60.0)
    with answering():  # another request, still in flight
        own = asyncio.Event()

        async def request() -> None:
            with answering():
                # an upstream call of the request itself, or a task it starts, goes on at once
                await api_first.api_first()
                await asyncio.create_task(api_first.api_first())
                own.set()

        task = asyncio.create_task(request())
        assert await settled(task)
        assert own.is_set()


def test_a_gate_goes_with_its_loop() -> None:
    async def answer() -> None:
        with answering():
            pass

    loop = asyncio.new_event_loop()
    loop.run_until_complete(answer())
    assert loop in api_first._gates
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None
