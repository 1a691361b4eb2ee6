"""The pagination of listReviews and listEndorsements: Chive's decimal offset accepted as the cursor, the next page's
position returned until the last page, the total under the same filter; any other cursor is InvalidRequest."""

from __future__ import annotations

import pytest
from support.admin_api import Api, refusal

from chive_admin._generated import ids
from chive_admin.store import index
from chive_admin.store.index import IndexedRecord
from testnet import records

AUTHOR = "did:plc:pager000000000000000000000"
EPRINT = records.at_uri(AUTHOR, records.SUBMISSION, "e1")
TWINS = [
    (ids.PUB_CHIVE_ADMIN_LIST_REVIEWS, records.COMMENT, records.review_comment),
    (ids.PUB_CHIVE_ADMIN_LIST_ENDORSEMENTS, records.ENDORSEMENT, records.review_endorsement),
]


@pytest.mark.parametrize(("method", "collection", "make"), TWINS)
async def test_every_page_once_newest_first(api: Api, method: str, collection: str, make: object) -> None:
    rows = [
        IndexedRecord.from_parts(
            AUTHOR,
            collection,
            f"r{n:03d}",
            records.raw_cid(f"r{n}".encode()),
            make(eprint_uri=EPRINT, created_at=f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z"),  # type: ignore[operator]
        )
        for n in range(23)
    ]
    async with api.services.db.write() as conn:
        await index.upsert_repo(conn, AUTHOR, "t", handle="pager.test")
        await index.upsert_records(conn, rows, "t")
    seen: list[str] = []
    cursors: list[str] = []
    params: dict[str, str] = {"limit": "5"}
    while True:
        page = (await api.get(method, params)).json()
        assert page["total"] == 23
        seen += [item["uri"] for item in page["items"]]
        if "cursor" not in page:
            break
        cursors.append(page["cursor"])
        params = {"limit": "5", "cursor": page["cursor"]}
    newest_first = list(reversed(rows))
    assert seen == [r.uri for r in newest_first]
    # each cursor is the position of its page's last item
    assert cursors == [f"{r.value['createdAt']}::{r.uri}" for r in newest_first[4:20:5]]
    # Chive's decimal offsets name the same pages
    for n, cursor in enumerate(cursors, start=1):
        by_offset = (await api.get(method, {"limit": "5", "cursor": str(5 * n)})).json()
        by_position = (await api.get(method, {"limit": "5", "cursor": cursor})).json()
        assert by_offset == by_position
    # a cursor past the end: an empty last page, no cursor
    assert (await api.get(method, {"cursor": "23"})).json() == {"items": [], "total": 23}
    assert (await api.get(method, {"cursor": "0", "limit": "23"})).json()["items"][0]["uri"] == rows[-1].uri


@pytest.mark.parametrize(("method", "collection", "make"), TWINS)
async def test_a_position_cursor_holds_its_place_when_newer_items_arrive(
    api: Api, method: str, collection: str, make: object
) -> None:
    def row(n: int) -> IndexedRecord:
        created = f"2026-01-01T00:00:{n:02d}.000Z"
        value = make(eprint_uri=EPRINT, created_at=created)  # type: ignore[operator]
        return IndexedRecord.from_parts(AUTHOR, collection, f"r{n:03d}", records.raw_cid(f"r{n}".encode()), value)

    async with api.services.db.write() as conn:
        await index.upsert_records(conn, [row(n) for n in range(10)], "t")
    first = (await api.get(method, {"limit": "4"})).json()
    async with api.services.db.write() as conn:  # two newer items: an offset of 4 would repeat two
        await index.upsert_records(conn, [row(20), row(21)], "t")
    second = (await api.get(method, {"limit": "4", "cursor": first["cursor"]})).json()
    assert [i["uri"] for i in first["items"] + second["items"]] == [row(n).uri for n in range(9, 1, -1)]
    assert second["total"] == 12


@pytest.mark.parametrize("method", [method for method, _, _ in TWINS])
async def test_a_cursor_is_a_decimal_offset_or_a_position_and_nothing_else(api: Api, method: str) -> None:
    offsets = ("", "-1", "1.5", "abc", "0x10", " 1", "1 ", "+1", "٣", "²", "1" * 10, "9" * 400)
    positions = ("::", "::at://did:plc:a/c/r", "2026-01-01T00:00:00Z::", "2026::did:plc:a", "x" * 2000 + "::at://a")
    for cursor in offsets + positions:
        refusal(await api.get(method, {"cursor": cursor}), 400, "InvalidRequest")
    assert (await api.get(method, {"cursor": "999999999"})).json() == {"items": [], "total": 0}
