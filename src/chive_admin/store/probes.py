"""What the database can say about its own health."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite


@dataclass(frozen=True)
class Probe:
    ok: bool
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class IntegrityResult:
    ok: bool
    duration_ms: float
    first_problem: str | None


@dataclass(frozen=True)
class FileSizes:
    db_bytes: int
    wal_bytes: int
    #: what a non-root writer may still use on the database's file system
    free_bytes: int


async def probe(conn: aiosqlite.Connection) -> Probe:
    """A round trip through the connection's thread and SQLite's schema: the cheapest honest liveness check."""
    start = time.perf_counter()
    try:
        async with conn.execute("SELECT count(*) FROM sqlite_master") as cur:
            await cur.fetchone()
    except aiosqlite.Error as exc:
        return Probe(False, (time.perf_counter() - start) * 1000, type(exc).__name__)
    return Probe(True, (time.perf_counter() - start) * 1000)


async def quick_check(conn: aiosqlite.Connection) -> IntegrityResult:
    """``PRAGMA quick_check``: O(database size), so callers cache it rather than run it per request."""
    start = time.perf_counter()
    async with conn.execute("PRAGMA quick_check") as cur:
        rows = [str(row[0]) async for row in cur]
    ok = rows == ["ok"]
    return IntegrityResult(ok, (time.perf_counter() - start) * 1000, None if ok else rows[0][:200])


def file_sizes(db_path: Path) -> FileSizes:
    def size(path: Path) -> int:
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            return 0

    disk = os.statvfs(db_path.parent)
    return FileSizes(size(db_path), size(db_path.with_name(db_path.name + "-wal")), disk.f_bavail * disk.f_frsize)
