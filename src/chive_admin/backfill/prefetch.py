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


class _End:
    pass


_END = _End()


async def prefetched(source: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The items of ``source``, the next one already requested while the consumer works on the current one.

    Use it under ``contextlib.aclosing`` so a consumer that stops early cancels the fetch in flight at once.
    """

    async def next_item() -> T | _End:
        try:
            return await anext(source)
        except StopAsyncIteration:  # a task must not end in it (asyncio would wrap it), so it becomes a value
            return _END

    ahead: asyncio.Task[T | _End] = asyncio.ensure_future(next_item())
    try:
        while True:
            item = await ahead
            if isinstance(item, _End):
                return
            ahead = asyncio.ensure_future(next_item())
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
