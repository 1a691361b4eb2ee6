"""Bounded waits for a condition: the bound fails the test, it claims nothing about speed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

POLL_SECONDS = 0.05


def wait_for(check: Callable[[], bool], what: str, within: float = 60) -> None:
    """Poll ``check()`` until it holds; fail the test naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within:.0f} s")
        time.sleep(POLL_SECONDS)


async def until(check: Callable[[], Awaitable[bool]], within: float = 60) -> None:
    """Poll the coroutine ``check()`` until it holds; fail after ``within`` seconds."""
    for _ in range(int(within / POLL_SECONDS)):
        if await check():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"not within {within} s")
