"""Pages of visible reviews and endorsements (listReviews, listEndorsements), newest first.

Both collections are read by one function: newest first by the record's own ``createdAt``, then by uri (both
descending), ``offset`` rows in, each with the eprint it is about and the verified handle of its repository. The
page is read in the order of the collection's partial index (migration 016); the total comes from the content counters
(migration 015), which count by the rule of :func:`~chive_admin.store.takedowns.visible`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin._generated import ids
from chive_admin.store import pages
from chive_admin.store.content import visible_count
from chive_admin.store.sql import Conn, Dialect, json_text
from chive_admin.store.takedowns import visible

#: the collections with a createdAt index of their own (migration 016)
PAGED = frozenset({ids.PUB_CHIVE_REVIEW_COMMENT, ids.PUB_CHIVE_REVIEW_ENDORSEMENT})


@dataclass(frozen=True)
class Entry:
    uri: str
    did: str
    handle: str | None
    #: as the record states them (``None`` when the record has no such string)
    eprint_uri: str | None
    created_at: str | None


def _created(dialect: Dialect, alias: str) -> str:
    # byte order on both engines, and the expression of the index: PostgreSQL's is under COLLATE "C"
    text = json_text(dialect, f"{alias}.value", "createdAt")
    return f'({text} COLLATE "C")' if dialect is Dialect.POSTGRES else text


@dataclass(frozen=True)
class Position:
    """A place in the page order (the record's createdAt, then uri): a page that starts *after* it is a seek in the
    index, whatever its depth, and stays where it was when newer records arrive."""

    created_at: str
    uri: str


async def page(
    conn: Conn, collection: str, *, limit: int, offset: int = 0, after: Position | None = None
) -> tuple[list[Entry], int]:
    """``limit`` visible records of ``collection``, newest first, from ``offset`` on or right after ``after``; and how
    many are visible."""
    if collection not in PAGED:
        raise ValueError(f"{collection} has no createdAt index")
    total = await visible_count(conn, collection)
    created = _created(conn.dialect, "r")
    columns = [(created, True), ("r.uri", True)]
    where = f"r.collection = '{collection}' AND {visible('r')}"
    args: list[object]
    if after is not None:
        # a range of the index: (createdAt, uri) below the position, in the page's order (written out: SQLite does
        # not take a row-value comparison over an expression as a range of the index)
        where += f" AND {created} <= ? AND ({created} < ? OR r.uri < ?)"
        order, args = pages.order(columns, False), [after.created_at, after.created_at, after.uri, limit, 0]
    else:
        # the offset is walked in the index alone (uris only), from the nearer end
        window = pages.window(total, offset, limit)
        order, args = pages.order(columns, window.backward), [window.limit, window.offset]
    rows = await conn.fetchall(
        f"SELECT r.uri, r.did, p.handle, {json_text(conn.dialect, 'r.value', 'eprintUri')},"
        f" {json_text(conn.dialect, 'r.value', 'createdAt')}"
        f" FROM (SELECT r.uri AS uri FROM records r WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) page"
        # the records of the page are read after
        f" JOIN records r ON r.uri = page.uri LEFT JOIN repos p ON p.did = r.did"
        f" ORDER BY {pages.order(columns, False)}",
        args,
    )
    return [Entry(str(row[0]), str(row[1]), row[2], row[3], row[4]) for row in rows], total
