"""Server health: database probes with a cached integrity check, and facts about this process."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass

from chive_admin.clock import now_ms_stamp
from chive_admin.store import probes
from chive_admin.store.db import Database

#: how old an integrity result may be before a call starts a fresh check in the background
INTEGRITY_MAX_AGE_S = 300.0
_PROCESS_STARTED = time.time()


@dataclass(frozen=True)
class Integrity:
    ok: bool
    checked_at: str
    duration_ms: float
    checked_monotonic: float


class IntegrityMonitor:
    """Runs ``quick_check`` at most once per ``max_age`` seconds; callers get the last result immediately.

    The first call waits for a check (there is nothing to report before it); later calls never wait, they
    only start a refresh in the background when the result has aged, and a refresh is never run twice at once.
    """

    def __init__(self, db: Database, max_age: float = INTEGRITY_MAX_AGE_S) -> None:
        self._db = db
        self._max_age = max_age
        self._last: Integrity | None = None
        self._running: asyncio.Task[Integrity | None] | None = None
        #: the backend has no integrity check (PostgreSQL)
        self._unchecked = False

    async def _check(self) -> Integrity | None:
        async with self._db.read() as conn:
            result = await probes.quick_check(conn)
        if result is None:
            self._unchecked = True
            return None
        self._last = Integrity(result.ok, now_ms_stamp(), result.duration_ms, time.monotonic())
        return self._last

    def _start(self) -> asyncio.Task[Integrity | None]:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._check())
        return self._running

    async def current(self) -> Integrity | None:
        """The last check, or ``None`` where the backend has none."""
        if self._unchecked:
            return None
        if self._last is None:
            return await self._start()
        if time.monotonic() - self._last.checked_monotonic > self._max_age:
            self._start()
        return self._last


@dataclass(frozen=True)
class ProcessFacts:
    pid: int
    uptime_s: int
    rss_bytes: int
    heap_used_bytes: int
    heap_total_bytes: int
    cpu_user_us: int
    cpu_system_us: int
    threads: int
    open_fds: int
    gc_collections: tuple[int, ...]


def _proc_status() -> dict[str, int]:
    """``/proc/self/status`` memory lines in bytes (Linux; empty elsewhere)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def process_facts() -> ProcessFacts:
    """This process now. Python has no managed heap in the V8 sense that the lexicon's fields come from; the
    closest honest readings are the anonymous resident memory (used) and the data segment (reserved)."""
    status = _proc_status()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = status.get("VmRSS", usage.ru_maxrss * 1024)
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = -1
    return ProcessFacts(
        pid=os.getpid(),
        uptime_s=int(time.time() - _PROCESS_STARTED),
        rss_bytes=rss,
        heap_used_bytes=status.get("RssAnon", rss),
        heap_total_bytes=status.get("VmData", rss),
        cpu_user_us=int(usage.ru_utime * 1_000_000),
        cpu_system_us=int(usage.ru_stime * 1_000_000),
        threads=threading.active_count(),
        open_fds=fds,
        gc_collections=tuple(int(s["collections"]) for s in gc.get_stats()),
    )


async def event_loop_lag_us() -> int:
    """How late a callback scheduled now actually runs: a direct sample of event-loop congestion."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(0)
    return int((loop.time() - start) * 1_000_000)


def python_version() -> str:
    return ".".join(str(p) for p in sys.version_info[:3])
