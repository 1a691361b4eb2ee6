"""Full-text search over indexed eprints, with an atomically swapped rebuild (see migration 005)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chive_admin._generated import ids
from chive_admin.store.sql import Conn, Dialect, any_of
from chive_admin.store.takedowns import taken_down, visible

TABLES = ("search_a", "search_b")
EPRINT_COLLECTION = ids.PUB_CHIVE_EPRINT_SUBMISSION


@dataclass(frozen=True)
class SearchDoc:
    uri: str
    title: str
    abstract: str
    keywords: str
    authors: str


@dataclass(frozen=True)
class SearchState:
    live: str
    building: str | None


def _texts(items: Any) -> str:
    """The plain text of a rich-text array: the ``content`` of its text-bearing items."""
    if not isinstance(items, list):
        return ""
    parts = [item.get("content") or item.get("text") or "" for item in items if isinstance(item, dict)]
    return " ".join(p for p in parts if isinstance(p, str))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def document_for(uri: str, value: dict[str, Any]) -> SearchDoc:
    """What of a ``pub.chive.eprint.submission`` record is searchable."""
    abstract = value.get("abstractPlainText")
    if not isinstance(abstract, str):
        abstract = _texts(value.get("abstract"))
    names = [a["name"] for a in _list(value.get("authors")) if isinstance(a, dict) and isinstance(a.get("name"), str)]
    title = value.get("title")
    return SearchDoc(
        uri=uri,
        title=title if isinstance(title, str) else "",
        abstract=abstract,
        keywords=" ".join(k for k in _list(value.get("keywords")) if isinstance(k, str)),
        authors=" ".join(names),
    )


async def state(conn: Conn) -> SearchState:
    row = await conn.fetchone("SELECT live, building FROM search_state WHERE id = 1")
    assert row is not None, "migration 005 inserts the state row"
    return SearchState(row[0], row[1])


def _checked(table: str) -> str:
    # table names cannot be bound parameters; only these two ever reach SQL
    if table not in TABLES:
        raise ValueError(f"not a search table: {table!r}")
    return table


async def _write_docs(conn: Conn, table: str, docs: list[SearchDoc]) -> None:
    table = _checked(table)
    await conn.executemany(
        "INSERT INTO search_docids (uri) VALUES (?) ON CONFLICT DO NOTHING", [(d.uri,) for d in docs]
    )
    await conn.executemany(
        f"DELETE FROM {table} WHERE rowid = (SELECT docid FROM search_docids WHERE uri = ?)", [(d.uri,) for d in docs]
    )
    await conn.executemany(
        f"INSERT INTO {table} (rowid, uri, title, abstract, keywords, authors)"
        " VALUES ((SELECT docid FROM search_docids WHERE uri = ?), ?, ?, ?, ?, ?)",
        [(d.uri, d.uri, d.title, d.abstract, d.keywords, d.authors) for d in docs],
    )


async def upsert(conn: Conn, docs: list[SearchDoc]) -> None:
    """Keep the live index (and one being rebuilt) in step with newly ingested eprints; a taken-down one stays out
    however often an ingest path writes it."""
    if not docs:
        return
    hidden = await taken_down(conn, [d.uri for d in docs])
    docs = [d for d in docs if d.uri not in hidden]
    if not docs:
        return
    current = await state(conn)
    for table in {current.live, current.building} - {None}:
        assert table is not None
        await _write_docs(conn, table, docs)


async def remove(conn: Conn, uris: list[str]) -> None:
    if not uris:
        return
    current = await state(conn)
    for table in {current.live, current.building} - {None}:
        assert table is not None
        await conn.executemany(
            f"DELETE FROM {_checked(table)} WHERE rowid = (SELECT docid FROM search_docids WHERE uri = ?)",
            [(u,) for u in uris],
        )


async def begin_rebuild(conn: Conn) -> str:
    """Empty the table that is not live and mark it as being built; returns its name. Resumable: a rebuild
    already under way keeps its table and contents."""
    current = await state(conn)
    if current.building is not None:
        return current.building
    shadow = TABLES[1] if current.live == TABLES[0] else TABLES[0]
    await conn.execute(f"DELETE FROM {_checked(shadow)}")
    await conn.execute("UPDATE search_state SET building = ? WHERE id = 1", (shadow,))
    return shadow


async def eprints_after(conn: Conn, after_uri: str, limit: int) -> list[SearchDoc]:
    """The next batch of visible eprints in URI order, for a rebuild that checkpoints on the last URI."""
    rows = await conn.fetchall(
        f"SELECT uri, value FROM records WHERE collection = ? AND {visible()} AND uri > ? ORDER BY uri LIMIT ?",
        (EPRINT_COLLECTION, after_uri, limit),
    )
    return [document_for(row[0], json.loads(row[1])) for row in rows]


async def refresh(conn: Conn, uris: list[str]) -> None:
    """Put the visible eprints among ``uris`` back in the search index (a takedown lifted)."""
    if not uris:
        return
    where, args = any_of(conn.dialect, "uri", uris)
    rows = await conn.fetchall(
        f"SELECT uri, value FROM records WHERE collection = ? AND {visible()} AND {where}", [EPRINT_COLLECTION, *args]
    )
    await upsert(conn, [document_for(row[0], json.loads(row[1])) for row in rows])


async def visible_eprints(conn: Conn) -> int:
    """How many eprints a rebuild will index (its expected total)."""
    row = await conn.fetchone(
        f"SELECT count(*) FROM records WHERE collection = ? AND {visible()}", (EPRINT_COLLECTION,)
    )
    return int(row[0]) if row else 0


async def fill(conn: Conn, table: str, docs: list[SearchDoc]) -> None:
    await _write_docs(conn, table, docs)


async def finish_rebuild(conn: Conn, now: str) -> None:
    """Make the rebuilt table live, in the caller's transaction: readers see the old or the new, never a mix."""
    current = await state(conn)
    if current.building is None:
        return
    await conn.execute("UPDATE search_state SET live = building, building = NULL, swapped_at = ? WHERE id = 1", (now,))
    # the old table is left as it was until the next rebuild empties it: no large delete inside the swap


async def abandon_rebuild(conn: Conn) -> None:
    """A cancelled rebuild: stop double-writing; the live index was never touched."""
    await conn.execute("UPDATE search_state SET building = NULL WHERE id = 1")


async def count(conn: Conn, table: str | None = None) -> int:
    table = table or (await state(conn)).live
    row = await conn.fetchone(f"SELECT count(*) FROM {_checked(table)}")
    return int(row[0]) if row else 0


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, dialect: Dialect = Dialect.SQLITE) -> str | None:
    """A safe full-text query from user text: every word quoted (no operators), all required, last one a prefix.
    FTS5's syntax on SQLite, ``to_tsquery``'s on PostgreSQL."""
    words = _TOKEN.findall(text)[:16]
    if not words:
        return None
    if dialect is Dialect.POSTGRES:
        # \w+ words hold no tsquery operator; quoting keeps them literal all the same
        terms = ["'" + w.replace("'", "''") + "'" for w in words]
        terms[-1] += ":*"
        return " & ".join(terms)
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


async def search(conn: Conn, text: str, limit: int = 20) -> list[str]:
    """URIs of the best-matching eprints in the live index."""
    query = fts_query(text, conn.dialect)
    if query is None:
        return []
    table = _checked((await state(conn)).live)
    if conn.dialect is Dialect.POSTGRES:
        # weights as in the table's tsvector (title A, keywords and authors B, abstract C); ties by URI
        rows = await conn.fetchall(
            f"SELECT uri FROM {table}, to_tsquery('simple', ?) q WHERE document @@ q"
            " ORDER BY ts_rank(document, q) DESC, uri LIMIT ?",
            (query, limit),
        )
        return [row[0] for row in rows]
    rows = await conn.fetchall(
        f"SELECT uri FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT ?",
        (query, limit),
    )
    return [row[0] for row in rows]
