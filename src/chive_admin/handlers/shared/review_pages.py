"""The one pagination of listReviews and listEndorsements (twins over two collections).

Chive's cursor is a decimal offset, and one is accepted as such. The answer carries the next page's cursor
(``cursor``, our optional extension; absent on the last page) as a position instead: ``<createdAt>::<uri>`` of the
page's last item, like the reference AppView's feed cursors. Following it is a seek in the index, as cheap a
thousand pages in as on the first, and a review arriving meanwhile shifts nothing (an offset would repeat an item).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from chive_admin.handlers.shared.present import present
from chive_admin.lex import LexModel
from chive_admin.services import Services
from chive_admin.store import reviews
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.params import offset_cursor

S = TypeVar("S", bound=LexModel)


class PageParams(Protocol):
    @property
    def limit(self) -> int: ...

    @property
    def cursor(self) -> str | None: ...


@dataclass(frozen=True)
class Page(Generic[S]):
    items: list[S]
    total: int
    cursor: str | None


#: a position cursor is far shorter; anything longer is refused before it is split
_MAX_CURSOR = 1024
_SEPARATOR = "::"


def _cursor(raw: str | None) -> tuple[int, reviews.Position | None]:
    """The offset or the position a cursor names; 400 for anything else."""
    if raw is None or _SEPARATOR not in raw:
        return offset_cursor(raw), None
    # a datetime holds no "::", so the first one ends it (a DID may hold one)
    created_at, _, uri = raw[: _MAX_CURSOR + 1].partition(_SEPARATOR)
    if len(raw) > _MAX_CURSOR or not created_at or not uri.startswith("at://"):
        raise XRPCError.invalid_request("Invalid cursor: expected a decimal offset or a cursor this server returned")
    return 0, reviews.Position(created_at, uri)


async def page_of(services: Services, params: PageParams, collection: str, summary: type[S]) -> Page[S]:
    """A page of ``collection`` as ``summary`` items (uri, eprintUri, authorDid, authorHandle, createdAt)."""
    offset, after = _cursor(params.cursor)
    async with services.db.read() as conn:
        # one more than the page: whether a next page exists, without trusting a count taken beside it
        entries, total = await reviews.page(conn, collection, limit=params.limit + 1, offset=offset, after=after)
    more, entries = len(entries) > params.limit, entries[: params.limit]
    items = [
        present(
            summary,
            uri=entry.uri,
            eprintUri=entry.eprint_uri,
            authorDid=entry.did,
            authorHandle=entry.handle,
            createdAt=entry.created_at,
        )
        for entry in entries
    ]
    last = entries[-1] if more else None
    if last is None:
        cursor = None
    elif last.created_at is not None:
        cursor = f"{last.created_at}{_SEPARATOR}{last.uri}"
    else:  # a record without createdAt has no position (the lexicons require one): the offset still names the page
        cursor = str(offset + len(entries)) if after is None else None
    return Page(items, total, cursor)
