"""What the database can say about its own health."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from chive_admin.store.sql import Conn, Dialect


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


#: a statement that touches the catalogue, not only the connection
_PROBE = {Dialect.SQLITE: "SELECT count(*) FROM sqlite_master", Dialect.POSTGRES: "SELECT count(*) FROM pg_namespace"}


async def probe(conn: Conn) -> Probe:
    """A round trip through the connection's thread and SQLite's schema: the cheapest honest liveness check."""
    start = time.perf_counter()
    try:
        await conn.fetchone(_PROBE[conn.dialect])
    except Exception as exc:
        return Probe(False, (time.perf_counter() - start) * 1000, type(exc).__name__)
    return Probe(True, (time.perf_counter() - start) * 1000)


async def quick_check(conn: Conn) -> IntegrityResult | None:
    """``PRAGMA quick_check``: O(database size), so callers cache it rather than run it per request.

    ``None`` on PostgreSQL: it has no such check open to an unprivileged role (``amcheck`` needs an extension
    and a superuser), and its operator watches the server itself; nothing is reported rather than a made-up "ok".
    """
    if conn.dialect is Dialect.POSTGRES:
        return None
    start = time.perf_counter()
    rows = [str(row[0]) for row in await conn.fetchall("PRAGMA quick_check")]
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
