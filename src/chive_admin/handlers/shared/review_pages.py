"""The one pagination of listReviews and listEndorsements (twins over two collections).

Chive's cursor is a decimal offset; the answer carries the next one as ``cursor`` (our optional extension), absent on
the last page, so a client need not compute it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from chive_admin.lex import LexModel
from chive_admin.services import Services
from chive_admin.store import reviews
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


async def page_of(services: Services, params: PageParams, collection: str, summary: type[S]) -> Page[S]:
    """A page of ``collection`` as ``summary`` items (uri, eprintUri, authorDid, authorHandle, createdAt)."""
    offset = offset_cursor(params.cursor)
    async with services.db.read() as conn:
        entries, total = await reviews.page(conn, collection, limit=params.limit, offset=offset)
    items = [
        summary.model_validate(
            {
                key: value
                for key, value in {
                    "uri": entry.uri,
                    "eprintUri": entry.eprint_uri,
                    "authorDid": entry.did,
                    "authorHandle": entry.handle,
                    "createdAt": entry.created_at,
                }.items()
                if value is not None
            }
        )
        for entry in entries
    ]
    after = offset + len(entries)
    return Page(items, total, str(after) if entries and after < total else None)
