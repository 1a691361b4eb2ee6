"""The connection interface's own pieces: placeholders as asyncpg wants them, JSON access per dialect."""

from __future__ import annotations

from chive_admin.store import sql
from chive_admin.store.db import Database
from chive_admin.store.sql import Dialect


def test_placeholders_are_numbered_outside_quotes_only() -> None:
    assert sql.numbered("SELECT ? FROM t WHERE a = ? AND b IN (?, ?)") == (
        "SELECT $1 FROM t WHERE a = $2 AND b IN ($3, $4)"
    )
    # a question mark inside a literal or a quoted identifier is data, not a placeholder
    assert sql.numbered("SELECT '?', \"a?\" FROM t WHERE x = ? AND y = 'it''s ?'") == (
        "SELECT '?', \"a?\" FROM t WHERE x = $1 AND y = 'it''s ?'"
    )


def test_json_text_reads_a_nested_member_on_each_dialect() -> None:
    assert sql.json_text(Dialect.SQLITE, "value", "a", "b") == "json_extract(value, '$.a.b')"
    assert sql.json_text(Dialect.POSTGRES, "value", "a", "b") == "((value)::jsonb #>> '{a,b}')"


async def test_the_same_statements_answer_the_same_on_both_backends(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, doc TEXT NOT NULL)")
        await conn.executemany(
            "INSERT INTO t (k, n, doc) VALUES (?, ?, ?)", [("a", 1, '{"x": {"y": "A"}}'), ("b", 2, '{"x": {}}')]
        )
        assert await conn.execute("UPDATE t SET n = n + 10 WHERE k IN (?, ?)", ("a", "zz")) == 1
        assert await conn.execute("DELETE FROM t WHERE k = ?", ("nope",)) == 0
        rows = await conn.fetchall(f"SELECT k, n, {sql.json_text(conn.dialect, 'doc', 'x', 'y')} FROM t ORDER BY k")
        assert [tuple(r) for r in rows] == [("a", 11, "A"), ("b", 2, None)]
        assert await conn.fetchone("SELECT k FROM t WHERE k = ?", ("c",)) is None
        assert await sql.fetch_int(conn, "SELECT sum(n) FROM t") == 13
        assert await sql.fetch_int(conn, "SELECT sum(n) FROM t WHERE k = ?", ("none",)) == 0


async def test_any_of_matches_lists_of_every_length(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        await conn.executemany("INSERT INTO t (k) VALUES (?)", [(f"k{n}",) for n in range(5)])
        for wanted in (["k1"], ["k0", "k4", "nope"], [f"k{n}" for n in range(5)], []):
            where, args = sql.any_of(conn.dialect, "k", wanted)
            rows = await conn.fetchall(f"SELECT k FROM t WHERE {where} ORDER BY k", args)
            assert [r[0] for r in rows] == sorted(set(wanted) - {"nope"})
