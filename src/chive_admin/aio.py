"""Reading one item ahead of an async iterator, so the next upstream page is fetched while this one is written.

A listing is otherwise strictly alternating: the PDS idles while we validate and commit a page, and we idle while it
serves the next. Only one fetch is ever ahead (memory stays one page), and the consumer sees items, errors and the
end in the source's order: an error fetching page n+1 surfaces after page n was handed over (and committed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class End:
    """What :func:`next_or_end` gives once the source is exhausted."""


END = End()


async def next_or_end(source: AsyncIterator[T]) -> T | End:
    """The next item of ``source``, or ``END``: a task must not end in StopAsyncIteration (asyncio would wrap it)."""
    try:
        return await anext(source)
    except StopAsyncIteration:
        return END


async def prefetched(source: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The items of ``source``, the next one already requested while the consumer works on the current one.

    Use it under ``contextlib.aclosing`` so a consumer that stops early cancels the fetch in flight at once.
    """
    ahead: asyncio.Task[T | End] = asyncio.ensure_future(next_or_end(source))
    try:
        while True:
            item = await ahead
            if isinstance(item, End):
                return
            ahead = asyncio.ensure_future(next_or_end(source))
            yield item
    finally:
        if not ahead.done():
            ahead.cancel()
        await asyncio.wait([ahead])  # not ``await ahead``: its error belongs to a page nobody will read
        if not ahead.cancelled():
            ahead.exception()  # retrieved, so asyncio does not log it as lost
        closer = getattr(source, "aclose", None)
        if closer is not None:
            await closer()
