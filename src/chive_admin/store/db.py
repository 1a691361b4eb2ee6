"""The database, whichever backend holds it: transactions, pooled readers, migrations, and what can go wrong.

Two backends share this interface and every function of ``store/``: SQLite in one file owned by one process (the
embedded default, ``sqlite_db``), and PostgreSQL shared by several processes (``postgres_db``). Callers open one
with :meth:`Database.open` and never ask which it is, except through ``exclusive`` (does this process own all the
work?) and the connections' ``dialect`` inside ``store/``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from chive_admin.clock import now_stamp
from chive_admin.store.sql import Conn, Dialect
from chive_admin.store.target import DbTarget, PostgresUrl, describe

if TYPE_CHECKING:
    from chive_admin.store.sqlite_db import OwnerLock

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"(\d{3})_([a-z0-9_]+)\.sql")


class DatabaseLockedByOtherProcess(RuntimeError):
    pass


class MigrationError(RuntimeError):
    pass


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened: at start-up one clear line (exit 2); while serving, a 503 and a
    paused worker, until it answers again. The message never holds a password."""


#: SQLSTATE of a full disk in PostgreSQL (class 53, insufficient resources)
_PG_DISK_FULL = "53100"


def is_storage_full(exc: BaseException) -> bool:
    """The disk (or SQLite's page limit) is full. Transient: it passes once space is freed."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    return getattr(exc, "sqlstate", None) == _PG_DISK_FULL


def is_transient(exc: BaseException) -> bool:
    """An error that passes by itself (full disk, database out of reach): the work waits and resumes."""
    return is_storage_full(exc) or isinstance(exc, DatabaseUnavailable)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations(dialect: Dialect) -> list[Migration]:
    found = []
    for entry in resources.files(f"chive_admin.store.migrations.{dialect.value}").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number: {versions}")
    return found


@dataclass(frozen=True)
class StorageFacts:
    """What getSystemHealth reports of the storage; ``None`` where the backend has no such thing."""

    backend: str
    size_bytes: int
    wal_bytes: int | None
    #: what the database may still grow into, when this process can see its disk
    free_bytes: int | None


class Database(ABC):
    dialect: Dialect
    target: DbTarget

    @classmethod
    async def open(
        cls, target: DbTarget | str, *, readers: int = 4, lock: OwnerLock | None = None, writers: int = 8
    ) -> Database:
        """Open (creating and migrating) the database ``target`` names. For SQLite, ``lock`` is an owner lock the
        caller already holds; for PostgreSQL, ``writers`` bounds the connections that write at once."""
        if isinstance(target, str):
            from chive_admin.store.target import parse_target

            target = parse_target(target)
        if isinstance(target, PostgresUrl):
            from chive_admin.store.postgres_db import PostgresDatabase

            return await PostgresDatabase.connect(target, readers=readers, writers=writers)
        from chive_admin.store.sqlite_db import SqliteDatabase

        return await SqliteDatabase.connect(target, readers=readers, lock=lock)

    @property
    def exclusive(self) -> bool:
        """Whether this process alone works this database's operations (SQLite's owner lock): then what a previous
        process left running resumes at once, instead of after its lease runs out."""
        return False

    @property
    def path(self) -> Path:
        """The SQLite file (only SQLite has one)."""
        raise AttributeError(f"a {self.dialect.value} database has no file")

    def describe(self) -> str:
        return describe(self.target)

    @abstractmethod
    def write(self) -> AbstractAsyncContextManager[Conn]:
        """A transaction: committed on exit, rolled back on any exception."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Conn]:
        """A pooled reader in autocommit mode (each statement sees the latest commit)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def storage_facts(self) -> StorageFacts: ...

    def on_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when another process queues work (PostgreSQL's NOTIFY); nothing to hear on SQLite,
        where every trigger is made by this process."""
        del callback

    async def schema_version(self) -> int:
        async with self.read() as conn:
            row = await conn.fetchone("SELECT max(version) FROM schema_migrations")
        return int(row[0]) if row and row[0] is not None else 0

    @abstractmethod
    async def _run_script(self, conn: Conn, sql: str) -> None:
        """Run every statement of a migration inside the caller's transaction."""

    async def _lock_schema(self, conn: Conn) -> None:
        """Keep a second process from migrating at the same time (SQLite's write lock does it already)."""
        del conn

    async def migrate(self, migrations: list[Migration]) -> None:
        async with self.write() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        known = {m.version for m in migrations}
        for migration in migrations:
            async with self.write() as conn:
                await self._lock_schema(conn)
                applied = {int(row[0]) for row in await conn.fetchall("SELECT version FROM schema_migrations")}
                if applied - known:
                    raise MigrationError(
                        f"database {self.describe()} has migrations {sorted(applied - known)} that this version does "
                        "not know; it was written by a newer chive-admin"
                    )
                if migration.version in applied or (applied and migration.version < min(applied)):
                    continue  # applied, or older than the schema this database started at (PostgreSQL's 011)
                try:
                    await self._run_script(conn, migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, now_stamp()),
                    )
                except DatabaseUnavailable:
                    raise
                except Exception as exc:
                    raise MigrationError(f"migration {migration.version:03d}_{migration.name} failed: {exc}") from exc
            log.info("applied migration %03d_%s", migration.version, migration.name)

    async def _migrate_bundled(self) -> None:
        await self.migrate(bundled_migrations(self.dialect))
