"""One connection interface over both backends, so that every function of ``store/`` is written once.

Statements are written with ``?`` placeholders, SQLite's and the DB-API's; the PostgreSQL connection numbers them
(``$1``, ``$2``…) for asyncpg. Rows are sequences read by position (``aiosqlite.Row`` and ``asyncpg.Record`` both
are). Where the engines differ — full-text search, JSON access, the claim query — a store function asks
``conn.dialect`` and writes each form next to the other, never in a second copy of the store.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import Any, Protocol


class Row(Protocol):
    """A result row, read by position (``aiosqlite.Row`` and ``asyncpg.Record`` both are)."""

    def __getitem__(self, index: int, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class Dialect(Enum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


class Conn(Protocol):
    """A connection inside a transaction (``Database.write()``) or an autocommit reader (``Database.read()``)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...


async def fetch_int(conn: Conn, sql: str, args: Sequence[Any] = ()) -> int:
    """The first column of the first row as an int (0 for no row or NULL): counts and sums."""
    row = await conn.fetchone(sql, args)
    return int(row[0]) if row is not None and row[0] is not None else 0


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$n``; a ``?`` inside a quoted literal or identifier is left alone."""
    out: list[str] = []
    index = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            index += 1
            out.append(f"${index}")
            continue
        out.append(char)
    return "".join(out)


def any_of(dialect: Dialect, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column`` is one of ``values``: ``IN (?, …)`` on SQLite; ``= ANY(?)`` with one array on PostgreSQL, so that
    lists of every length are one prepared statement, not one per length."""
    if dialect is Dialect.POSTGRES:
        return f"{column} = ANY(?)", [list(values)]
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def json_text(dialect: Dialect, column: str, *path: str) -> str:
    """The SQL for the text at ``path`` inside a JSON text column (NULL when it is missing)."""
    if dialect is Dialect.POSTGRES:
        return f"(({column})::jsonb #>> '{{{','.join(path)}}}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"
