"""Citations extracted from eprint documents, and which eprint versions have been extracted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chive_admin.citations.extract import Citation
from chive_admin.store.search import EPRINT_COLLECTION, is_eprint
from chive_admin.store.sql import Conn, Dialect, json_text
from chive_admin.store.takedowns import visible


@dataclass(frozen=True)
class PendingEprint:
    uri: str
    did: str
    cid: str
    value: str


async def pending(conn: Conn, after_uri: str, limit: int) -> list[PendingEprint]:
    """Visible eprints whose current version has not been extracted (new, or changed since), in URI order."""
    rows = await conn.fetchall(
        "SELECT r.uri, r.did, r.cid, r.value FROM records r"
        " LEFT JOIN citation_extractions x ON x.eprint_uri = r.uri AND x.cid = r.cid"
        f" WHERE {is_eprint('r')} AND {visible('r')} AND x.eprint_uri IS NULL AND r.uri > ?"
        " ORDER BY r.uri LIMIT ?",
        (after_uri, limit),
    )
    return [PendingEprint(row[0], row[1], row[2], row[3]) for row in rows]


async def count_pending(conn: Conn) -> int:
    row = await conn.fetchone(
        "SELECT count(*) FROM records r LEFT JOIN citation_extractions x ON x.eprint_uri = r.uri AND x.cid = r.cid"
        f" WHERE {is_eprint('r')} AND {visible('r')} AND x.eprint_uri IS NULL"
    )
    return int(row[0]) if row else 0


async def eprint(conn: Conn, uri: str) -> PendingEprint | None:
    row = await conn.fetchone(
        f"SELECT uri, did, cid, value FROM records WHERE uri = ? AND collection = ? AND {visible()}",
        (uri, EPRINT_COLLECTION),
    )
    return PendingEprint(row[0], row[1], row[2], row[3]) if row else None


#: where each identifier kind sits in an eprint record
_IDENTIFIER_PATHS = {"doi": ("publishedVersion", "doi"), "arxiv": ("externalIds", "arxivId")}


def _by_identifier(dialect: Dialect, kind: str) -> str | None:
    """The lookup of an eprint by one identifier, spelled exactly as the expression indexes (SQLite's migration
    006, PostgreSQL's 011) so that it uses them; the collection is a literal, since a partial index is only used
    when the query's WHERE visibly implies its own."""
    path = _IDENTIFIER_PATHS.get(kind)
    if path is None:
        return None
    return f"SELECT uri FROM records WHERE {is_eprint()} AND lower({json_text(dialect, 'value', *path)}) = ? LIMIT 1"


async def _cited_eprints(conn: Conn, citations: Sequence[Citation]) -> dict[tuple[str, str], str]:
    """Indexed eprints named by DOI (their published version) or arXiv id, keyed by (kind, value)."""
    found: dict[tuple[str, str], str] = {}
    for citation in citations:
        sql = _by_identifier(conn.dialect, citation.kind)
        if sql is None:
            continue
        row = await conn.fetchone(sql, (citation.value,))
        if row:
            found[(citation.kind, citation.value)] = str(row[0])
    return found


async def replace(conn: Conn, eprint_uri: str, cid: str, citations: Sequence[Citation], now: str) -> int:
    """Make ``citations`` the eprint's citations (in the caller's transaction) and mark this version extracted."""
    cited = await _cited_eprints(conn, citations)
    await conn.execute("DELETE FROM citations WHERE eprint_uri = ?", (eprint_uri,))
    await conn.executemany(
        "INSERT INTO citations (eprint_uri, kind, value, raw, entry, cited_uri) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [
            (eprint_uri, c.kind, c.value, c.raw, c.entry, cited.get((c.kind, c.value)))
            for c in citations
            if cited.get((c.kind, c.value)) != eprint_uri  # a paper naming its own DOI does not cite itself
        ],
    )
    await _mark(conn, eprint_uri, cid, "done", len(citations), None, now)
    return len(citations)


async def mark_failed(conn: Conn, eprint_uri: str, cid: str, error: str, now: str) -> None:
    await _mark(conn, eprint_uri, cid, "failed", 0, error, now)


async def _mark(conn: Conn, uri: str, cid: str, status: str, count: int, error: str | None, now: str) -> None:
    await conn.execute(
        "INSERT INTO citation_extractions (eprint_uri, cid, status, citations, error, extracted_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (eprint_uri) DO UPDATE SET cid = excluded.cid,"
        " status = excluded.status, citations = excluded.citations, error = excluded.error,"
        " extracted_at = excluded.extracted_at",
        (uri, cid, status, count, error, now),
    )


async def of_eprint(conn: Conn, uri: str) -> list[tuple[str, str, str | None]]:
    """(kind, value, cited eprint uri) of one eprint's citations."""
    rows = await conn.fetchall(
        "SELECT kind, value, cited_uri FROM citations WHERE eprint_uri = ? ORDER BY kind, value", (uri,)
    )
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]
