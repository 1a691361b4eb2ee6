"""The SQLite backend: pragmas on every connection, migrations, the owner lock, transactions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chive_admin.store.db import (
    Database,
    DatabaseLockedByOtherProcess,
    Migration,
    MigrationError,
    is_storage_full,
)
from chive_admin.store.db import bundled_migrations as bundled
from chive_admin.store.sql import Dialect
from chive_admin.store.sqlite_db import WRITER_NICENESS, split_statements

pytestmark = pytest.mark.sqlite_only


def bundled_migrations() -> list[Migration]:
    return bundled(Dialect.SQLITE)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "t.db", readers=2)
    yield database
    await database.close()


async def test_pragmas_on_writer_and_every_reader(db: Database) -> None:
    async with db.write() as conn:
        assert [tuple(r) for r in await conn.fetchall("PRAGMA journal_mode")] == [("wal",)]
        assert [tuple(r) for r in await conn.fetchall("PRAGMA foreign_keys")] == [(1,)]
        assert [tuple(r) for r in await conn.fetchall("PRAGMA synchronous")] == [(2,)]  # FULL
        assert [tuple(r) for r in await conn.fetchall("PRAGMA busy_timeout")] == [(5000,)]
        # a new database: 8 KB pages (a records page wastes less), free pages given back on demand (migration 026)
        assert [tuple(r) for r in await conn.fetchall("PRAGMA page_size")] == [(8192,)]
        assert [tuple(r) for r in await conn.fetchall("PRAGMA auto_vacuum")] == [(2,)]  # INCREMENTAL
    for _ in range(3):  # cycle through the pool
        async with db.read() as conn:
            assert [tuple(r) for r in await conn.fetchall("PRAGMA foreign_keys")] == [(1,)]
            assert [tuple(r) for r in await conn.fetchall("PRAGMA query_only")] == [(1,)]
            assert [tuple(r) for r in await conn.fetchall("PRAGMA busy_timeout")] == [(5000,)]


async def test_bundled_migrations_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = await Database.open(path)
    version = await first.schema_version()
    await first.close()
    assert version == max(m.version for m in bundled_migrations())
    again = await Database.open(path)  # reopening applies nothing twice
    async with again.read() as conn:
        rows = await conn.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    await again.close()
    assert [r[0] for r in rows] == [m.version for m in bundled_migrations()]


async def test_second_owner_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "owned.db"
    first = await Database.open(path)
    with pytest.raises(DatabaseLockedByOtherProcess, match="in use by another chive-admin process"):
        await Database.open(path)
    await first.close()
    second = await Database.open(path)
    await second.close()


def test_split_statements_keeps_triggers_whole() -> None:
    script = """
    -- a comment
    CREATE TABLE a (x INTEGER);
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE a SET x = x + 1;
    END;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")
    with pytest.raises(MigrationError, match="incomplete"):
        split_statements("CREATE TABLE b (x INTEGER)")


async def test_cancelled_writers_never_leave_a_transaction_open(tmp_path: Path) -> None:
    """Tasks cancelled at any await of a write (BEGIN, body, COMMIT) leave the writer clean for the next one."""
    db = await Database.open(tmp_path / "c.db", readers=1)
    try:
        async with db.write() as conn:
            await conn.execute("CREATE TABLE t (n INTEGER)")

        async def writer(n: int) -> None:
            async with db.write() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (n,))
                await asyncio.sleep(0)
                await conn.execute("INSERT INTO t VALUES (?)", (-n,))

        for round_ in range(30):
            tasks = [asyncio.create_task(writer(n)) for n in range(1, 6)]
            for _ in range(round_ % 7):
                await asyncio.sleep(0)
            for task in tasks[::2]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        async with db.write() as conn:  # no "cannot start a transaction within a transaction"
            await conn.execute("INSERT INTO t VALUES (0)")
        async with db.read() as conn:
            rows = await conn.fetchall("SELECT n FROM t")
        values = [r[0] for r in rows]
        # every write is whole or absent: each n appears exactly as often as -n
        assert all(values.count(n) == values.count(-n) for n in range(1, 6))
        assert 0 in values
    finally:
        await db.close()


async def test_new_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        database = await Database.open(tmp_path / "p.db", readers=1)
    finally:
        os.umask(old)
    try:
        async with database.write() as conn:
            await conn.execute("CREATE TABLE t (x)")
        names = ["p.db", "p.db-wal", "p.db-shm", "p.db.lock"]
        assert {n: oct(stat.S_IMODE((tmp_path / n).stat().st_mode)) for n in names} == dict.fromkeys(names, "0o600")
    finally:
        await database.close()


def test_storage_full_is_recognised() -> None:
    assert is_storage_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_storage_full(sqlite3.OperationalError("database is locked"))
    assert not is_storage_full(OSError(28, "No space left on device"))  # SQLite reports it as SQLITE_FULL


def niceness_of_threads() -> list[int]:
    """The niceness of each thread of this process (a Linux thread has its own)."""
    values = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/self/task/{tid}/stat") as stat_file:
            values.append(int(stat_file.read().rsplit(")", 1)[1].split()[16]))
    return values


async def test_the_writer_thread_is_nicer_than_the_server_and_the_readers_are_not(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    before = niceness_of_threads().count(base + WRITER_NICENESS)  # another test's database may be open still
    database = await Database.open(tmp_path / "t.db", readers=2)
    try:
        # the writer's thread, only: the event loop's thread and the readers' stay as the server is
        assert niceness_of_threads().count(base + WRITER_NICENESS) == before + 1
        assert os.getpriority(os.PRIO_PROCESS, 0) == base
        async with database.write() as conn:
            await conn.execute("CREATE TABLE t (x)")
            await conn.execute("INSERT INTO t VALUES (1)")
        async with database.read() as conn:
            assert [tuple(r) for r in await conn.fetchall("SELECT x FROM t")] == [(1,)]
    finally:
        await database.close()
