"""Server health: the integrity check run at most once per max age (the first caller waits for it, later ones get the
last result at once while a refresh runs behind them), and facts about this process."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chive_admin.store import probes
from chive_admin.store.db import Database
from chive_admin.store.sql import Conn
from chive_admin.telemetry import health
from chive_admin.telemetry.health import IntegrityMonitor, event_loop_lag_us, process_facts, python_version


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "health.db", readers=1)
    yield database
    await database.close()


class Checks:
    """Stands in for ``probes.quick_check``: counts the checks and holds each until released."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self, conn: Conn) -> probes.IntegrityResult:
        self.started += 1
        await self.release.wait()
        return probes.IntegrityResult(ok=self.started == 1, duration_ms=1.0, first_problem=None)


async def test_the_first_call_waits_for_a_real_check(db: Database) -> None:
    integrity = await IntegrityMonitor(db).current()
    assert integrity.ok is True
    assert integrity.checked_at.endswith("Z")
    assert integrity.duration_ms >= 0


async def test_a_fresh_result_is_reused(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = Checks()
    checks.release.set()
    monkeypatch.setattr(health.probes, "quick_check", checks)
    monitor = IntegrityMonitor(db, max_age=3600)
    first = await monitor.current()
    assert await monitor.current() is first
    assert checks.started == 1


async def test_an_aged_result_is_answered_while_one_refresh_runs_behind_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Checks()
    monkeypatch.setattr(health.probes, "quick_check", checks)
    monitor = IntegrityMonitor(db, max_age=0)
    first_call = asyncio.create_task(monitor.current())
    await asyncio.sleep(0.01)
    assert not first_call.done()  # nothing to report before the first check
    checks.release.set()
    first = await first_call
    checks.release.clear()
    # aged at once (max_age=0): each call answers the last result and at most one refresh is under way
    answers = [await monitor.current() for _ in range(5)]
    assert all(answer is first for answer in answers)
    await asyncio.sleep(0.01)
    assert checks.started == 2
    checks.release.set()
    for _ in range(100):
        if await monitor.current() is not first:
            break
        await asyncio.sleep(0.01)
    refreshed = await monitor.current()
    assert refreshed is not first
    assert refreshed.ok is False  # the second check's result


def test_process_facts_describe_this_process() -> None:
    facts = process_facts()
    assert facts.pid == os.getpid()
    assert facts.rss_bytes > 1_000_000
    assert facts.heap_total_bytes >= facts.heap_used_bytes > 0
    assert facts.threads == threading.active_count()
    assert facts.open_fds > 0
    assert len(facts.gc_collections) == 3
    assert facts.uptime_s >= 0
    assert facts.cpu_user_us > 0


async def test_event_loop_lag_is_a_count_of_microseconds() -> None:
    lag = await event_loop_lag_us()
    assert isinstance(lag, int)
    assert lag >= 0


def test_python_version_is_major_minor_micro() -> None:
    assert python_version() == "{}.{}.{}".format(*sys.version_info[:3])
