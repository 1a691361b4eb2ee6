"""A page read from the far end holds the same rows as the page read by offset."""

from __future__ import annotations

import pytest

from chive_admin.store.pages import Window, order, window


@pytest.mark.parametrize("total", [0, 1, 2, 7, 10, 11, 100])
@pytest.mark.parametrize("limit", [1, 3, 10])
def test_every_page_is_the_slice_an_offset_names(total: int, limit: int) -> None:
    rows = list(range(total))
    for offset in range(total + limit + 1):
        w = window(total, offset, limit)
        read = rows[::-1][w.offset : w.offset + w.limit][::-1] if w.backward else rows[w.offset : w.offset + w.limit]
        assert read == rows[offset : offset + limit], (offset, w)


def test_no_page_walks_more_than_half_the_range() -> None:
    total = 150_000
    walked = [window(total, offset, 50).offset for offset in range(0, total, 997)]
    assert max(walked) <= total // 2
    assert window(total, total - 50, 50) == Window(0, 50, backward=True)
    assert window(total, 0, 50) == Window(0, 50, backward=False)


def test_order_flips_every_column() -> None:
    columns = [("created", True), ("uri", False)]
    assert order(columns, backward=False) == "created DESC, uri ASC"
    assert order(columns, backward=True) == "created ASC, uri DESC"
