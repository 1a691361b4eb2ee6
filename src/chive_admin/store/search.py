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


def is_eprint(alias: str | None = None) -> str:
    """The condition that a row of ``records`` (as ``alias``) is an eprint, for a WHERE clause. A literal, not a
    parameter: SQLite uses a partial index (records_eprint_uri, migration 026) only for a query whose WHERE visibly
    implies the index's."""
    column = f"{alias}.collection" if alias else "collection"
    return f"{column} = '{EPRINT_COLLECTION}'"


_EPRINTS = is_eprint()


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
    await _empty(conn, shadow)  # empty already since the last swap, unless migrated from before 026
    await conn.execute("UPDATE search_state SET building = ? WHERE id = 1", (shadow,))
    return shadow


async def eprints_after(conn: Conn, after_uri: str, limit: int) -> list[SearchDoc]:
    """The next batch of visible eprints in URI order, for a rebuild that checkpoints on the last URI."""
    rows = await conn.fetchall(
        f"SELECT uri, value FROM records WHERE {_EPRINTS} AND {visible()} AND uri > ? ORDER BY uri LIMIT ?",
        (after_uri, limit),
    )
    return [document_for(row[0], json.loads(row[1])) for row in rows]


async def refresh(conn: Conn, uris: list[str]) -> None:
    """Put the visible eprints among ``uris`` back in the search index (a takedown lifted)."""
    if not uris:
        return
    where, args = any_of(conn.dialect, "uri", uris)
    rows = await conn.fetchall(f"SELECT uri, value FROM records WHERE {_EPRINTS} AND {visible()} AND {where}", args)
    await upsert(conn, [document_for(row[0], json.loads(row[1])) for row in rows])


async def visible_eprints(conn: Conn) -> int:
    """How many eprints a rebuild will index (its expected total)."""
    row = await conn.fetchone(f"SELECT count(*) FROM records WHERE {_EPRINTS} AND {visible()}")
    return int(row[0]) if row else 0


async def fill(conn: Conn, table: str, docs: list[SearchDoc]) -> None:
    await _write_docs(conn, table, docs)


async def finish_rebuild(conn: Conn, now: str) -> None:
    """Make the rebuilt table live, in the caller's transaction: readers see the old or the new, never a mix."""
    current = await state(conn)
    if current.building is None:
        return
    await conn.execute("UPDATE search_state SET live = building, building = NULL, swapped_at = ? WHERE id = 1", (now,))
    # the old table is emptied at once, not at the next rebuild: kept, it doubled the search index on disk
    await _empty(conn, current.live)


#: the definition of both FTS5 tables (migration 005), made again whenever one is emptied
_FTS5 = "fts5(uri UNINDEXED, title, abstract, keywords, authors, tokenize = 'unicode61')"


async def _empty(conn: Conn, table: str) -> None:
    """Empty a search table that is not live, at the cost of dropping it, not of deleting each document: a
    ``DELETE`` from an FTS5 table reads every document back to unindex it and leaves its pages in use."""
    table = _checked(table)
    if conn.dialect is Dialect.POSTGRES:
        await conn.execute(f"TRUNCATE {table}")
        return
    await conn.execute(f"DROP TABLE {table}")
    await conn.execute(f"CREATE VIRTUAL TABLE {table} USING {_FTS5}")


#: free pages given back per call (8 MB of 8 KB pages): a transaction that moves pages holds the writer
RECLAIM_PAGES = 1000
_INCREMENTAL = 2


async def reclaim_free_pages(conn: Conn) -> bool:
    """Give up to :data:`RECLAIM_PAGES` free pages back to the file system (SQLite, on a database made with
    ``auto_vacuum = INCREMENTAL``); whether free pages remain to give back."""
    if conn.dialect is Dialect.POSTGRES:  # PostgreSQL's autovacuum reuses them; TRUNCATE gave the files back
        return False
    mode = await conn.fetchone("PRAGMA auto_vacuum")
    if mode is None or int(mode[0]) != _INCREMENTAL:
        return False
    # one page per statement: Python's sqlite3 steps a statement that returns no columns once, and
    # incremental_vacuum(N) moves a page per step
    for _ in range(RECLAIM_PAGES):
        free = await conn.fetchone("PRAGMA freelist_count")
        if free is None or int(free[0]) == 0:
            return False
        await conn.execute("PRAGMA incremental_vacuum(1)")
    free = await conn.fetchone("PRAGMA freelist_count")
    return free is not None and int(free[0]) > 0


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
    # which table is live is read in the same statement as the search (one snapshot): the table a swap takes out of
    # service is emptied at once, so a search that read the state first and then its table could find it empty
    live = "(SELECT live FROM search_state WHERE id = 1)"
    if conn.dialect is Dialect.POSTGRES:
        # weights as in the table's tsvector (title A, keywords and authors B, abstract C); ties by URI
        rows = await conn.fetchall(
            " UNION ALL ".join(
                f"SELECT uri, ts_rank(document, q) AS score FROM {t}, to_tsquery('simple', ?) q"
                f" WHERE {live} = '{t}' AND document @@ q"
                for t in TABLES
            )
            + " ORDER BY score DESC, uri LIMIT ?",
            (query, query, limit),
        )
        return [row[0] for row in rows]
    rows = await conn.fetchall(
        "SELECT uri FROM ("
        + " UNION ALL ".join(f"SELECT uri, rank FROM {t} WHERE {live} = '{t}' AND {t} MATCH ?" for t in TABLES)
        + ") ORDER BY rank LIMIT ?",
        (query, query, limit),
    )
    return [row[0] for row in rows]
