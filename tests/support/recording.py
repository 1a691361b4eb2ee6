"""A connection that records the statements it runs (and delegates them): for tests that count queries or read
their plans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chive_admin.store.sql import Conn, Dialect, Row


@dataclass
class RecordingConn:
    conn: Conn
    statements: list[tuple[str, Sequence[Any]]] = field(default_factory=list)

    @property
    def dialect(self) -> Dialect:
        return self.conn.dialect

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        self.statements.append((sql, args))
        return await self.conn.execute(sql, args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        self.statements.append((sql, args))
        return await self.conn.fetchall(sql, args)

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        self.statements.append((sql, args))
        return await self.conn.fetchone(sql, args)

    async def sqlite_plans(self) -> list[list[str]]:
        """The plan of every recorded statement (SQLite's EXPLAIN QUERY PLAN), one list of steps each."""
        return [
            [str(row[3]) for row in await self.conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", args)]
            for sql, args in self.statements
        ]
