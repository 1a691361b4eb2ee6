"""Offset pages over an ordered index, read from whichever end is nearer.

Chive's admin lists page by offset (listEprints' ``offset``, the decimal cursors of listReviews/listEndorsements),
and an offset costs a step of the index for every row it skips. The counters (migration 015) give the number of
visible rows exactly, so a page in the second half is read from the far end with the order reversed and put back
in order: no page walks more than half the range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """The rows to read for one page: ``limit`` rows after skipping ``offset``, in the page's order, or in the
    reverse order when ``backward`` (the caller reverses what it read)."""

    offset: int
    limit: int
    backward: bool


def window(total: int, offset: int, limit: int) -> Window:
    """The read for the page of ``limit`` rows at ``offset`` of ``total`` ordered rows."""
    if offset >= total or offset + limit // 2 <= total // 2:
        return Window(offset, limit, backward=False)
    end = min(total, offset + limit)
    return Window(total - end, end - offset, backward=True)


def order(columns: list[tuple[str, bool]], backward: bool) -> str:
    """An ORDER BY list of ``(expression, descending)`` pairs, every direction flipped when ``backward``."""
    return ", ".join(f"{expr} {'ASC' if descending == backward else 'DESC'}" for expr, descending in columns)
