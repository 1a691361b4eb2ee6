"""A server's database read from outside it, on either backend: what a test checks while it kills and restarts
servers (their HTTP API may be down, or be the thing under test).

SQLite is opened read-only (the server owns the file); PostgreSQL through a connection of its own. Statements are
written with ``?`` placeholders for both, as in ``store/``. A table the server has not created yet reads as empty.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from chive_admin.store.sql import numbered
from chive_admin.store.target import DbTarget

Rows = list[tuple[Any, ...]]


def rows(db: DbTarget, sql: str, *args: object) -> Rows:
    if isinstance(db, Path):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            try:
                return list(conn.execute(sql, args).fetchall())
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    async def fetch() -> Rows:
        conn = await asyncpg.connect(db.url, timeout=10)
        try:
            return [tuple(row) for row in await conn.fetch(numbered(sql), *args)]
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await conn.close()

    return asyncio.run(fetch())
