"""What every backend's database does alike: migrations once and whole, refusal of a newer schema, transactions."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from chive_admin.store.db import Database, Migration, MigrationError, bundled_migrations
from chive_admin.store.target import DbTarget


async def test_the_bundled_migrations_are_applied_once(db_target: DbTarget) -> None:
    first = await Database.open(db_target, readers=1)
    expected = [m.version for m in bundled_migrations(first.dialect)]
    await first.close()
    again = await Database.open(db_target, readers=1)  # reopening applies nothing twice
    async with again.read() as conn:
        rows = await conn.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    assert await again.schema_version() == expected[-1]
    await again.close()
    assert [r[0] for r in rows] == expected


@pytest.mark.postgres_only
async def test_processes_starting_together_migrate_once(db_target: DbTarget) -> None:
    opened = await asyncio.gather(*(Database.open(db_target, readers=1, writers=1) for _ in range(4)))
    async with opened[0].read() as conn:
        rows = await conn.fetchall("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY 1")
    for db in opened:
        await db.close()
    assert [tuple(r) for r in rows] == [(m.version, 1) for m in bundled_migrations(opened[0].dialect)]


async def test_a_failed_migration_leaves_nothing_behind(db: Database) -> None:
    bad = Migration(999, "broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    with pytest.raises(MigrationError, match="999_broken"):
        await db.migrate([*bundled_migrations(db.dialect), bad])
    async with db.read() as conn:
        versions = [r[0] for r in await conn.fetchall("SELECT version FROM schema_migrations")]
    assert 999 not in versions
    async with db.read() as conn:  # the table the broken migration made went with it
        with pytest.raises((sqlite3.OperationalError, asyncpg.UndefinedTableError)):
            await conn.fetchall("SELECT x FROM half_done")


async def test_a_database_from_a_newer_version_is_refused(db_target: DbTarget) -> None:
    db = await Database.open(db_target, readers=1)
    async with db.write() as conn:
        await conn.execute("INSERT INTO schema_migrations VALUES (998, 'future', 'now')")
    await db.close()
    with pytest.raises(MigrationError, match="newer chive-admin"):
        await Database.open(db_target, readers=1)


async def test_a_write_rolls_back_whole_on_error(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")

    async def insert_then_fail() -> None:
        async with db.write() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with db.read() as conn:
        assert (await conn.fetchall("SELECT count(*) FROM t"))[0][0] == 0


async def test_readers_cannot_write(db: Database) -> None:
    with pytest.raises((sqlite3.OperationalError, asyncpg.ReadOnlySQLTransactionError)):
        async with db.read() as conn:
            await conn.execute("CREATE TABLE nope (x INTEGER)")
