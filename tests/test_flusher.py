"""The flusher: flushes every tick and at once when due, keeps going after a failed flush, flushes at stop."""

from __future__ import annotations

import asyncio
import logging

from chive_admin.flusher import Flusher


async def test_ticks_due_failures_and_stop() -> None:
    flushed: list[str] = []
    fail = [True]

    async def flush() -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("database away")
        flushed.append("ok")

    flusher = Flusher(flush, 3600, "test flush", logging.getLogger("test"))
    flusher.start()
    flusher.due()  # the first flush fails: the task goes on
    for _ in range(100):
        await asyncio.sleep(0)
        if not fail[0]:
            break
    flusher.due()
    for _ in range(100):
        await asyncio.sleep(0)
        if flushed:
            break
    assert flushed == ["ok"]
    await flusher.stop()
    assert flushed == ["ok", "ok"]
