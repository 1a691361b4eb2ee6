"""Content of the index as the admin sees it: headline counts, the eprint list, and eprints per PDS.

The counts come from ``content_counts``, which triggers on ``records`` and ``takedowns`` keep (migration 015): the
visible records (:func:`~chive_admin.store.takedowns.visible`) of each kind per repository; and from
``content_totals``, which triggers on ``content_counts`` keep (migration 017): the same per kind, in a few rows. No
reader scans ``records`` or every repository's counter to count, and no write path has to remember the counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin._generated import ids
from chive_admin.store import pages
from chive_admin.store.sql import Conn, Dialect, fetch_int, json_text
from chive_admin.store.takedowns import visible

#: the kinds of ``content_kinds`` (migration 015), one per getOverview field
KINDS = ("eprints", "reviews", "endorsements", "tags", "authors", "collections")


@dataclass(frozen=True)
class Overview:
    eprints: int
    reviews: int
    endorsements: int
    tags: int
    authors: int
    collections: int


@dataclass(frozen=True)
class EprintRow:
    uri: str
    cid: str
    title: str | None
    submitted_by: str | None
    handle: str | None
    status: str | None
    field: str | None
    indexed_at: str


async def overview(conn: Conn, governance_did: str | None) -> Overview:
    """Visible records of each kind; the governance repository's collections are the community's shared graph, not
    a user's, so they are left out of ``collections``."""
    rows = await conn.fetchall("SELECT kind, sum(n) FROM content_totals GROUP BY kind")
    found = {str(row[0]): int(row[1]) for row in rows}
    if governance_did is not None:
        found["collections"] = found.get("collections", 0) - await fetch_int(
            conn, "SELECT n FROM content_counts WHERE kind = 'collections' AND did = ?", (governance_did,)
        )
    return Overview(**{kind: found.get(kind, 0) for kind in KINDS})


async def visible_count(conn: Conn, collection: str) -> int:
    """Visible records of ``collection``, one of ``content_kinds`` (migration 015), from the totals."""
    return await fetch_int(
        conn,
        "SELECT coalesce(sum(t.n), 0) FROM content_totals t JOIN content_kinds k ON k.kind = t.kind"
        " WHERE k.collection = ?",
        (collection,),
    )


async def eprint_total(conn: Conn, pds_url: str | None = None) -> int:
    """Visible eprint submissions, of the repositories hosted on ``pds_url`` when given."""
    if pds_url is None:
        return await visible_count(conn, ids.PUB_CHIVE_EPRINT_SUBMISSION)
    return await fetch_int(
        conn,
        "SELECT sum(c.n) FROM repos p JOIN content_counts c ON c.kind = 'eprints' AND c.did = p.did"
        " WHERE p.pds_url = ?",
        (pds_url,),
    )


def _created_at(dialect: Dialect) -> str:
    # the expression of the index records_eprint_created (migration 015), so the page walks it instead of sorting
    created = json_text(dialect, "r.value", "createdAt")
    return f'({created} COLLATE "C")' if dialect is Dialect.POSTGRES else created


def _first_field(dialect: Dialect) -> str:
    if dialect is Dialect.POSTGRES:
        return json_text(dialect, "r.value", "fieldUris", "0")
    return "json_extract(r.value, '$.fieldUris[0]')"


def _walk(dialect: Dialect) -> str:
    # SQLite keeps no statistics here (no ANALYZE), so it takes an equality on records_collection for a few rows
    # and would sort every submission for each page; name the index whose order is the page's
    return "" if dialect is Dialect.POSTGRES else " INDEXED BY records_eprint_created"


def page_uris_sql(dialect: Dialect, backward: bool = False) -> str:
    """The URIs of one page of :func:`eprints_page` (``limit``, ``offset``), read from the index alone: the rows an
    offset skips are never read. ``backward`` walks from the oldest end (see :mod:`~chive_admin.store.pages`)."""
    return (
        f"SELECT r.uri FROM records r{_walk(dialect)}"
        # the collection is written out: a partial index is used only for the very condition it was made with
        f" WHERE r.collection = '{ids.PUB_CHIVE_EPRINT_SUBMISSION}' AND {visible('r')}"
        f" ORDER BY {pages.order(_order(dialect), backward)} LIMIT ? OFFSET ?"
    )


def _order(dialect: Dialect) -> list[tuple[str, bool]]:
    # newest first by the record's createdAt, then URI: the order of records_eprint_created
    return [(_created_at(dialect), True), ("r.uri", False)]


def _eprints_sql(dialect: Dialect, backward: bool) -> str:
    submitted_by = json_text(dialect, "r.value", "submittedBy")
    return (
        f"SELECT r.uri, r.cid, {json_text(dialect, 'r.value', 'title')}, {submitted_by}, p.handle,"
        f" {json_text(dialect, 'r.value', 'publicationStatusSlug')}, {_first_field(dialect)}, r.indexed_at"
        f" FROM ({page_uris_sql(dialect, backward)}) page JOIN records r ON r.uri = page.uri"
        f" LEFT JOIN repos p ON p.did = {submitted_by} ORDER BY {pages.order(_order(dialect), False)}"
    )


async def eprints_page(conn: Conn, *, limit: int, offset: int) -> tuple[list[EprintRow], int]:
    """Visible eprint submissions, newest first by their ``createdAt`` then URI, with the stored handle of the
    submitter's repository; and how many are visible."""
    total = await eprint_total(conn)
    window = pages.window(total, offset, limit)
    rows = await conn.fetchall(_eprints_sql(conn.dialect, window.backward), (window.limit, window.offset))
    return [EprintRow(*row) for row in rows], total
