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

The position (both cursors and both edges) is plain JSON, committed with each page by the caller, so a resumed scan
continues both listings where they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from itertools import pairwise
from typing import Any

from chive_admin._generated.models.com.atproto.repo import list_records as lex_list_records
from chive_admin.aio import End, next_or_end, prefetched
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.errors import UpstreamError

Page = lex_list_records.Output
Record = lex_list_records.RecordDef

#: the page size the listing asks for (``AtprotoClient.list_records``' default, the lexicon's maximum)
PAGE_SIZE = 100
#: full pages the first listing returns before the second one starts: a collection of a page or two is not worth it
FULL_PAGES_BEFORE_SECOND = 2

#: a position where nothing of the collection has been listed yet
START: dict[str, Any] = {
    "cursor": None,
    "downEdge": None,
    "full": 0,
    "up": None,
    "upCursor": None,
    "upEdge": None,
    "done": False,
}


def rkey(record: Record) -> str:
    return record.uri.rpartition("/")[2]


async def collection_pages(
    client: AtprotoClient, pds: str, did: str, collection: str, position: Mapping[str, Any] | None = None
) -> AsyncGenerator[tuple[list[Record], dict[str, Any]], None]:
    """``(records, position)`` for each page read: the records not handed out before, and the position to commit
    with them. Ends when the collection has been listed whole. Use it under ``contextlib.aclosing``."""
    pos = {**START, **(position or {})}
    if pos["done"]:  # committed as listed whole, then stopped before the caller moved on
        return
    down = prefetched(client.iter_record_pages(pds, did, collection, cursor=pos["cursor"]))
    up: AsyncGenerator[Page, None] | None = None
    waiting: dict[str, asyncio.Future[Page | End]] = {}

    def open_up() -> AsyncGenerator[Page, None]:
        return prefetched(client.iter_record_pages(pds, did, collection, cursor=pos["upCursor"], reverse=True))

    async def drop_up() -> None:
        nonlocal up
        pos.update(up="off", upCursor=None, upEdge=None)
        task = waiting.pop("up", None)
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()
        if up is not None:
            await up.aclose()
            up = None

    if pos["up"] == "on":
        up = open_up()
    try:
        while True:
            if "down" not in waiting:
                waiting["down"] = asyncio.ensure_future(next_or_end(down))
            if up is not None and "up" not in waiting:
                waiting["up"] = asyncio.ensure_future(next_or_end(up))
            await asyncio.wait(waiting.values(), return_when=asyncio.FIRST_COMPLETED)
            if waiting["down"].done():
                page = waiting.pop("down").result()
                if isinstance(page, End):
                    return  # the first listing reached its own end: nothing is left to list
                kept = await _down_page(page, pos, drop_up)
                if up is None and pos["up"] is None and pos["full"] >= FULL_PAGES_BEFORE_SECOND:
                    pos["up"] = "on"
                    up = open_up()
                yield kept, dict(pos)
                if pos["done"]:
                    return
            elif "up" in waiting and waiting["up"].done():
                task = waiting.pop("up")
                try:
                    up_page = task.result()
                except UpstreamError:  # the first listing alone still lists everything
                    await drop_up()
                    continue
                if isinstance(up_page, End):
                    return  # the second listing went all the way up: everything has been listed
                taken = _up_page(up_page, pos)
                if taken is None:
                    await drop_up()
                    continue
                yield taken, dict(pos)
                if pos["done"]:
                    return
    finally:
        # a listing is closed only once no task is still reading from it
        for task in waiting.values():
            task.cancel()
        if waiting:
            await asyncio.wait(waiting.values())
        for task in waiting.values():
            if not task.cancelled():
                task.exception()  # an error of a page nobody will read: retrieved, so asyncio does not log it
        await down.aclose()
        if up is not None:
            await up.aclose()


async def _down_page(page: Page, pos: dict[str, Any], drop_up: Callable[[], Awaitable[None]]) -> list[Record]:
    """Apply one page of the first listing to ``pos``: the records to hand out (``pos["done"]`` once the
    listings have met or this one has ended)."""
    keys = [rkey(r) for r in page.records]
    in_order = all(a > b for a, b in pairwise(keys)) and (
        not keys or pos["downEdge"] is None or keys[0] < pos["downEdge"]
    )
    if not in_order and pos["up"] != "off":
        await drop_up()  # from here the first listing runs to its end, as a lone one would
    top_of_up = pos["upEdge"] if pos["up"] == "on" else None
    kept = [r for r, k in zip(page.records, keys, strict=True) if top_of_up is None or k > top_of_up]
    met = top_of_up is not None and (len(kept) < len(keys) or (bool(keys) and keys[-1] <= top_of_up))
    pos["cursor"] = page.cursor
    if keys:
        pos["downEdge"] = keys[-1]
    if len(keys) >= PAGE_SIZE and page.cursor and in_order:
        pos["full"] += 1
    # the last page of a listing (as iter_record_pages ends it) closes the collection: a resumed scan must not
    # take its missing cursor for "from the start"
    pos["done"] = met or not keys or not page.cursor
    return kept


def _up_page(page: Page, pos: dict[str, Any]) -> list[Record] | None:
    """Apply one page of the second listing to ``pos``; ``None`` when it is not in the order it must be."""
    keys = [rkey(r) for r in page.records]
    if not all(a < b for a, b in pairwise(keys)) or (keys and pos["upEdge"] is not None and keys[0] <= pos["upEdge"]):
        return None
    bottom_of_down = pos["downEdge"]
    kept = [r for r, k in zip(page.records, keys, strict=True) if bottom_of_down is None or k < bottom_of_down]
    met = bottom_of_down is not None and (len(kept) < len(keys) or (bool(keys) and keys[-1] >= bottom_of_down))
    pos["upCursor"] = page.cursor
    if keys:
        pos["upEdge"] = keys[-1]
    pos["done"] = met or not keys or not page.cursor
    return kept
