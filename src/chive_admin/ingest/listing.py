"""Listing one collection of a repository from both ends at once, the two listings stopping where they meet.

A listing is a chain: each page names the cursor of the next, so one listing has at most one request in flight (the
read-ahead of :mod:`chive_admin.aio`) and a large collection takes one round trip per page, one after
the other. Once a collection has shown it is large (two full pages), a second listing starts from the other end
(``reverse``), and the two proceed together until their edges cross: half the round trips in a row, and the PDS
always has the next page to work on.

Nothing here trusts the order more than it checks it. Every page of the first listing must go strictly down in
record key, and continue below the one before; every page of the second must go strictly up. At the first page
that does not (a PDS that ignores ``reverse``, or orders differently), the second listing is dropped, its unread
pages unused, and the first one runs to its own end as a lone listing would. Records both listings returned are
handed out once.

The position (both cursors, both edges, the second listing's state) is a small frozen value, stored as JSON with the
records by the caller, so a resumed scan continues both listings where they were.

Pages arrive decoded and checked (each record against its lexicon) by the decoder the caller gives: a reader
process (:mod:`chive_admin.ingest.page_checker`), so the event loop only reads answers and sorts rows.

:func:`batches` keeps both listings reading while the caller writes: a task pulls the pages into a small buffer
(each page prepared by the caller's function as it arrives) and the caller takes whatever has arrived as one
batch, with the position after its last page. The PDS always has the next page to serve, and the caller commits
once for several pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import replace
from enum import Enum
from functools import partial
from itertools import pairwise
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from chive_admin.aio import END, End, next_or_end, prefetched
from chive_admin.ingest.page_checker import check_here
from chive_admin.repo.rows import RecordRow
from chive_admin.upstream.atproto import LIST_LIMIT, AtprotoClient, CheckedPage, PageDecoder
from chive_admin.upstream.errors import UpstreamError

#: a page as the listing reads it: decoded and checked by the decoder it is given (a reader process, or
#: :func:`~chive_admin.ingest.page_checker.check_here`), its records as checked rows
Page = CheckedPage[RecordRow]
Record = RecordRow
P = TypeVar("P")

#: the page size the listing asks for
PAGE_SIZE = LIST_LIMIT
#: full pages the first listing returns before the second one starts: a collection of a page or two is not worth it
FULL_PAGES_BEFORE_SECOND = 2
#: pages :func:`batches` holds read ahead of its caller (what a batch can hold at most): enough for both listings to
#: keep a request in flight while a batch is written, little enough that many repositories at once stay small
PAGES_AHEAD = 3


class Upward(Enum):
    """The second listing, from the other end: not started (yet), running, or dropped for good."""

    NOT_STARTED = None
    RUNNING = "on"
    DROPPED = "off"


# stored with camelCase keys, beside the caller's own keys (which are ignored when it is read back)
@dataclass(frozen=True, config=ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore"))
class Position:
    """How far both listings of one collection have come."""

    #: the first listing's next cursor
    cursor: str | None = None
    #: the lowest record key the first listing has returned
    down_edge: str | None = None
    #: full pages the first listing has returned in order
    full: int = 0
    up: Upward = Upward.NOT_STARTED
    #: the second listing's next cursor
    up_cursor: str | None = None
    #: the highest record key the second listing has returned
    up_edge: str | None = None
    #: the collection has been listed whole
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        stored: dict[str, Any] = _POSITION.dump_python(self, mode="json", by_alias=True)
        return stored

    @staticmethod
    def from_json(stored: Mapping[str, Any]) -> Position:
        return _POSITION.validate_python(stored)

    def without_upward(self) -> Position:
        """The second listing dropped: from here the first one runs to its own end, as a lone listing would."""
        return replace(self, up=Upward.DROPPED, up_cursor=None, up_edge=None)


_POSITION = TypeAdapter(Position)
#: a position where nothing of the collection has been listed yet
START = Position()


def rkey(record: Record) -> str:
    return record[1]


async def collection_pages(
    client: AtprotoClient,
    pds: str,
    did: str,
    collection: str,
    position: Position = START,
    *,
    decode: PageDecoder[Record] = check_here,
) -> AsyncGenerator[tuple[list[Record], Position], None]:
    """``(records, position)`` for each page read (each decoded by ``decode``): the records not handed out before,
    and the position to commit with them. Ends when the collection has been listed whole. Use it under
    ``contextlib.aclosing``."""
    if position.done:  # committed as listed whole, then stopped before the caller moved on
        return
    listings = _Listings(client, pds, did, collection, position, decode)
    try:
        while (step := await listings.next_page()) is not None:
            yield step
    finally:
        await listings.close()


class _Listings:
    """Both listings of one collection, the pages each has asked for, and the position they have reached."""

    def __init__(
        self,
        client: AtprotoClient,
        pds: str,
        did: str,
        collection: str,
        position: Position,
        decode: PageDecoder[Record],
    ) -> None:
        self.position = position
        self._pages = partial(client.iter_checked_pages, pds, did, collection, decode)
        self._down = prefetched(self._pages(cursor=position.cursor))
        self._up = self._open_up() if position.up is Upward.RUNNING else None
        #: the page each listing waits for ("down", "up")
        self._waiting: dict[str, asyncio.Future[Page | End]] = {}

    async def next_page(self) -> tuple[list[Record], Position] | None:
        """The next records to hand out and the position after them; ``None`` once everything has been listed."""
        while not self.position.done:
            self._ask()
            await asyncio.wait(self._waiting.values(), return_when=asyncio.FIRST_COMPLETED)
            if self._waiting["down"].done():
                page = self._waiting.pop("down").result()
                if isinstance(page, End):
                    return None  # the first listing reached its own end: nothing is left to list
                records = await self._take_down(page)
                return records, self.position
            try:
                up_page = self._waiting.pop("up").result()
            except UpstreamError:  # the first listing alone still lists everything
                await self._drop_up()
                continue
            if isinstance(up_page, End):
                return None  # the second listing went all the way up: everything has been listed
            taken = _up_page(up_page, self.position)
            if taken is None:
                await self._drop_up()
                continue
            records, self.position = taken
            return records, self.position
        return None

    def _ask(self) -> None:
        """Have each open listing wait for its next page."""
        if "down" not in self._waiting:
            self._waiting["down"] = asyncio.ensure_future(next_or_end(self._down))
        if self._up is not None and "up" not in self._waiting:
            self._waiting["up"] = asyncio.ensure_future(next_or_end(self._up))

    async def _take_down(self, page: Page) -> list[Record]:
        records, self.position = _down_page(page, self.position)
        if self.position.up is Upward.DROPPED and self._up is not None:
            await self._drop_up()
        if self.position.up is Upward.NOT_STARTED and self.position.full >= FULL_PAGES_BEFORE_SECOND:
            self.position = replace(self.position, up=Upward.RUNNING)
            self._up = self._open_up()
        return records

    def _open_up(self) -> AsyncGenerator[Page, None]:
        return prefetched(self._pages(cursor=self.position.up_cursor, reverse=True))

    async def _drop_up(self) -> None:
        self.position = self.position.without_upward()
        task = self._waiting.pop("up", None)
        if task is not None:
            await _cancelled([task])
        if self._up is not None:
            await self._up.aclose()
            self._up = None

    async def close(self) -> None:
        # a listing is closed only once no task is still reading from it
        await _cancelled(self._waiting.values())
        await self._down.aclose()
        if self._up is not None:
            await self._up.aclose()


async def _cancelled(tasks: Iterable[asyncio.Future[Page | End]]) -> None:
    """Cancel ``tasks`` and wait until they have ended."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled():
            task.exception()  # an error of a page nobody will read: retrieved, so asyncio does not log it


def _down_page(page: Page, pos: Position) -> tuple[list[Record], Position]:
    """One page of the first listing: the records to hand out and the position after them (``done`` once the
    listings have met or this one has ended; the second listing dropped when this page is out of order)."""
    keys = [rkey(r) for r in page.records]
    in_order = all(a > b for a, b in pairwise(keys)) and (not keys or pos.down_edge is None or keys[0] < pos.down_edge)
    if not in_order:
        pos = pos.without_upward()
    top_of_up = pos.up_edge if pos.up is Upward.RUNNING else None
    kept = [r for r, k in zip(page.records, keys, strict=True) if top_of_up is None or k > top_of_up]
    met = top_of_up is not None and (len(kept) < len(keys) or (bool(keys) and keys[-1] <= top_of_up))
    full = len(keys) >= PAGE_SIZE and bool(page.cursor) and in_order
    after = replace(
        pos,
        cursor=page.cursor,
        down_edge=keys[-1] if keys else pos.down_edge,
        full=pos.full + 1 if full else pos.full,
        # the last page of a listing (as iter_record_pages ends it) closes the collection: a resumed scan must not
        # take its missing cursor for "from the start"
        done=met or not keys or not page.cursor,
    )
    return kept, after


def _up_page(page: Page, pos: Position) -> tuple[list[Record], Position] | None:
    """One page of the second listing: the records to hand out and the position after them; ``None`` when it is
    not in the order it must be."""
    keys = [rkey(r) for r in page.records]
    if not all(a < b for a, b in pairwise(keys)) or (keys and pos.up_edge is not None and keys[0] <= pos.up_edge):
        return None
    bottom_of_down = pos.down_edge
    kept = [r for r, k in zip(page.records, keys, strict=True) if bottom_of_down is None or k < bottom_of_down]
    met = bottom_of_down is not None and (len(kept) < len(keys) or (bool(keys) and keys[-1] >= bottom_of_down))
    after = replace(
        pos,
        up_cursor=page.cursor,
        up_edge=keys[-1] if keys else pos.up_edge,
        done=met or not keys or not page.cursor,
    )
    return kept, after


class Batch(NamedTuple, Generic[P]):
    """Pages read together: each one prepared, the records in them, and the position after the last one."""

    parts: list[P]
    records: int
    position: Position


async def batches(
    client: AtprotoClient,
    pds: str,
    did: str,
    collection: str,
    prepare: Callable[[list[Record]], P],
    position: Position = START,
    *,
    decode: PageDecoder[Record] = check_here,
    ahead: int = PAGES_AHEAD,
) -> AsyncGenerator[Batch[P], None]:
    """:func:`collection_pages` read ahead by a task, up to ``ahead`` pages: each batch is every page that has
    arrived (at least one, pages without records included), ``prepare`` applied to each page as it arrived. An error
    reading a page is raised once the pages before it have been handed out. Use it under ``contextlib.aclosing``:
    closing stops the reading at once."""
    buffer: asyncio.Queue[tuple[P, int, Position] | BaseException | End] = asyncio.Queue(ahead)

    async def pump() -> None:
        try:
            async with aclosing(collection_pages(client, pds, did, collection, position, decode=decode)) as pages:
                async for records, after in pages:
                    await buffer.put((prepare(records), len(records), after))
        except Exception as exc:  # handed to the reader, raised after the pages before it
            await buffer.put(exc)
        else:
            await buffer.put(END)

    reader = asyncio.ensure_future(pump())
    try:
        ended: BaseException | End | None = None
        while ended is None:
            arrived = [await buffer.get()]
            while not buffer.empty():
                arrived.append(buffer.get_nowait())
            pages = [item for item in arrived if isinstance(item, tuple)]
            ended = next((item for item in arrived if not isinstance(item, tuple)), None)
            if pages:
                yield Batch([part for part, _, _ in pages], sum(count for _, count, _ in pages), pages[-1][2])
        if isinstance(ended, BaseException):
            raise ended
    finally:
        reader.cancel()
        await asyncio.wait([reader])
