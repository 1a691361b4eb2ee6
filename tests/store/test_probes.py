"""What the database says about its own health: a liveness round trip, an integrity check, its files' sizes."""

from __future__ import annotations

import os
from pathlib import Path

import aiosqlite
import pytest

from chive_admin.store import probes
from chive_admin.store.db import Database
from chive_admin.store.sqlite_db import SqliteConn


async def test_a_live_connection_answers_the_probe(db: Database) -> None:
    async with db.read() as conn:
        probe = await probes.probe(conn)
    assert (probe.ok, probe.error) == (True, None)
    assert probe.latency_ms >= 0


async def test_a_file_that_is_no_database_fails_the_probe_with_the_error_type_only(tmp_path: Path) -> None:
    path = tmp_path / "not-a.db"
    path.write_bytes(b"this is not a database file, whatever its name says" * 100)
    async with aiosqlite.connect(path) as conn:
        probe = await probes.probe(SqliteConn(conn))
    assert (probe.ok, probe.error) == (False, "DatabaseError")  # no path, no SQL: it is shown to operators


@pytest.mark.sqlite_only
async def test_a_sound_database_passes_its_quick_check(db: Database) -> None:
    async with db.read() as conn:
        result = await probes.quick_check(conn)
    assert result is not None
    assert (result.ok, result.first_problem) == (True, None)


async def test_a_corrupt_index_page_fails_the_quick_check_and_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        await conn.execute("CREATE INDEX filler_text ON filler (text)")
        await conn.executemany("INSERT INTO filler (text) VALUES (?)", [(f"row {n:05d}",) for n in range(2000)])
        await conn.commit()
        page_size = (await (await conn.execute("PRAGMA page_size")).fetchone() or [0])[0]
        root = (
            await (await conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'filler_text'")).fetchone()
            or [0]
        )[0]
    with path.open("r+b") as raw:  # the index's root page header: not a b-tree page any more
        raw.seek((root - 1) * page_size)
        raw.write(b"\xff" * 8)
    async with aiosqlite.connect(path) as conn:
        assert (await probes.probe(SqliteConn(conn))).ok  # the schema still reads: only a check finds it
        result = await probes.quick_check(SqliteConn(conn))
    assert result is not None
    assert not result.ok
    assert result.first_problem is not None
    assert f"Page {root}" in result.first_problem
    assert len(result.first_problem) <= 200


def test_file_sizes_of_the_database_its_wal_and_the_free_space(tmp_path: Path) -> None:
    path = tmp_path / "sized.db"
    path.write_bytes(b"x" * 4096)
    before = probes.file_sizes(path)
    assert (before.db_bytes, before.wal_bytes) == (4096, 0)  # no WAL yet: none, not an error
    path.with_name("sized.db-wal").write_bytes(b"w" * 100)
    after = probes.file_sizes(path)
    assert (after.db_bytes, after.wal_bytes) == (4096, 100)
    assert 0 < after.free_bytes <= os.statvfs(tmp_path).f_blocks * os.statvfs(tmp_path).f_frsize
