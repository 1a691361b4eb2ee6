"""SQLite, the embedded default: connections, pragmas, the single writer, and the owner lock.

- One writer connection; write transactions are ``BEGIN IMMEDIATE`` under an asyncio lock, because a deferred
  transaction that reads and then writes can fail with SQLITE_BUSY despite ``busy_timeout``.
- Readers come from a small pool of ``query_only`` connections in autocommit mode: no reader holds a transaction
  open across an ``await`` on anything else, so WAL checkpoints are never starved.
- Pragmas are per connection in SQLite, so every connection gets all of them when it is opened.
- ``synchronous=FULL``: with WAL, NORMAL may lose the last commits on power loss, and a lost "cancelled" or
  checkpoint is worse than a slower commit.
- One process owns a database file (an exclusive ``flock`` on ``<db>.lock``), so two servers never run the same
  operations at once.
- The file holds key hashes, roles and client addresses, so it is created 0600 (and the lock with it). SQLite gives
  a new ``-wal`` and ``-shm`` file the mode of the database file itself (not the umask), so they are 0600 too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from chive_admin.store.db import (
    Database,
    DatabaseLockedByOtherProcess,
    DatabaseUnavailable,
    MigrationError,
    StorageFacts,
)
from chive_admin.store.probes import file_sizes
from chive_admin.store.sql import Conn, Dialect, Row

BUSY_TIMEOUT_MS = 5000
#: added to the writer thread's niceness (Linux: a thread has its own). The writer's work is mostly ingest's batches,
#: and since an export is written while it downloads (issue 28) they run beside the download and the export reader:
#: where the writer and the event loop (every API answer) want the same core, the loop goes first
WRITER_NICENESS = 10
#: owner read and write only: the mode of the database, its lock, and (copied by SQLite) its -wal and -shm files
FILE_MODE = 0o600


async def _nicer(writer: aiosqlite.Connection) -> None:
    """Make the writer connection's thread ``WRITER_NICENESS`` nicer than the server, from inside that thread (a
    function the connection calls runs there)."""
    if not sys.platform.startswith("linux"):  # elsewhere the id of a thread is no process id to renice
        return

    def renice() -> int:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + WRITER_NICENESS)
        return 0

    await writer.create_function("chive_admin_renice_writer", 0, renice)
    await writer.execute("SELECT chive_admin_renice_writer()")


class SqliteConn:
    """:class:`~chive_admin.store.sql.Conn` over an aiosqlite connection."""

    __slots__ = ("raw",)
    dialect = Dialect.SQLITE

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        cursor = await self.raw.execute(sql, args)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, rows)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self.raw.execute_fetchall(sql, args))  # one trip to the connection's thread, not three

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        rows = await self.raw.execute_fetchall(sql, args)
        return next(iter(rows), None)


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, so each runs inside our own transaction (``executescript`` would commit)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()):
        raise MigrationError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]!r}")
    return statements


async def _configure(conn: aiosqlite.Connection, *, reader: bool) -> None:
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = FULL")
    if reader:
        await conn.execute("PRAGMA query_only = ON")
    conn.row_factory = aiosqlite.Row


class OwnerLock:
    """An exclusive advisory lock on ``<db>.lock``, held for as long as the database is open."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path.resolve()
        self.path = self.db_path.with_name(self.db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise DatabaseUnavailable(f"--db: cannot create {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
            raise DatabaseLockedByOtherProcess(
                f"database {self.db_path} is in use by another chive-admin process (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SharedAccess(OwnerLock):
    """For short administrative commands (``chive-admin keys``) beside a running server: no ownership is taken.
    WAL and the busy timeout make their few writes safe next to the server's writer."""

    def acquire(self) -> None:
        return None

    def release(self) -> None:
        return None


def create_private(path: Path) -> None:
    """Create the database file, empty and 0600, unless it exists: SQLite itself would create it 0644 less the
    umask, and its -wal and -shm files after it."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def preflight(path: Path) -> None:
    """Open the file as SQLite and switch it to WAL, synchronously, so a start-up failure is one clear line."""
    try:
        create_private(path)
    except OSError as exc:
        raise DatabaseUnavailable(f"--db: cannot create database {path}: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            conn.execute("PRAGMA schema_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"--db: cannot open database {path}: {exc}") from None


class SqliteDatabase(Database):
    dialect = Dialect.SQLITE

    def __init__(self, path: Path, writer: aiosqlite.Connection, lock: OwnerLock):
        self.target = path
        self._path = path
        self._writer = writer
        self._write_conn = SqliteConn(writer)
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[SqliteConn] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._lock = lock

    @property
    def path(self) -> Path:
        return self._path

    @property
    def exclusive(self) -> bool:
        return not isinstance(self._lock, SharedAccess)

    @classmethod
    async def connect(cls, path: Path, *, readers: int = 4, lock: OwnerLock | None = None) -> SqliteDatabase:
        if lock is None:
            lock = OwnerLock(path)
            lock.acquire()
        path = lock.db_path
        opened: list[aiosqlite.Connection] = []
        try:
            if not isinstance(lock, SharedAccess):  # a command beside the server never makes a database
                create_private(path)
            writer = await aiosqlite.connect(path, isolation_level=None)
            opened.append(writer)
            # A new database (on one made before, both wait for a VACUUM, harmlessly): 8 KB pages, since a 4 KB page
            # holds whole rows only and left up to a row (about 500 bytes, 10 %) unused in every page of records;
            # and the pages it frees go back to the file system when asked (search.reclaim_free_pages: a search
            # index swapped out). The page size first: auto_vacuum set first fixes the default one.
            await writer.execute("PRAGMA page_size = 8192")
            await writer.execute("PRAGMA auto_vacuum = INCREMENTAL")
            await writer.execute("PRAGMA journal_mode = WAL")
            await _configure(writer, reader=False)
            await _nicer(writer)
            db = cls(path, writer, lock)
            await db._migrate_bundled()
            for _ in range(readers):
                conn = await aiosqlite.connect(path, isolation_level=None)
                opened.append(conn)
                await _configure(conn, reader=True)
                db._all_readers.append(conn)
                db._readers.put_nowait(SqliteConn(conn))
            return db
        except BaseException:
            for conn in opened:
                await conn.close()
            lock.release()
            raise

    async def close(self) -> None:
        async with self._write_lock:
            for conn in [self._writer, *self._all_readers]:
                await conn.close()
        self._lock.release()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Conn]:
        """A ``BEGIN IMMEDIATE`` transaction on the writer: committed on exit, rolled back on any exception.

        Cancellation-safe: aiosqlite runs statements in its own thread in queue order, so a cancelled await does not
        stop a BEGIN or COMMIT already queued. Each is shielded, and every failure queues a ROLLBACK behind it, so
        the connection never leaks an open transaction into the next writer.
        """
        async with self._write_lock:
            try:
                await asyncio.shield(self._writer.execute("BEGIN IMMEDIATE"))
                yield self._write_conn
            except BaseException:
                await asyncio.shield(self._rollback())
                raise
            try:
                await asyncio.shield(self._writer.execute("COMMIT"))
            except BaseException:
                await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):  # the BEGIN itself failed: nothing to undo
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def storage_facts(self) -> StorageFacts:
        sizes = file_sizes(self._path)
        return StorageFacts("sqlite", sizes.db_bytes, sizes.wal_bytes, sizes.free_bytes)

    async def _run_script(self, conn: Conn, sql: str) -> None:
        for statement in split_statements(sql):
            await conn.execute(statement)
