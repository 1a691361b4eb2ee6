"""Listing a collection from both ends: every record handed out exactly once, whatever the PDS's order or its
timing, with resumption from any committed position. The PDS here is a stand-in for behaviours the testnet PDS does
not have (ignoring ``reverse``, the opposite default order, failing the second listing); the real PDS is in
tests/interop/backfill/test_pds_scan.py."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chive_admin.ingest.listing import (
    FULL_PAGES_BEFORE_SECOND,
    PAGE_SIZE,
    PAGES_AHEAD,
    START,
    Batch,
    Page,
    Position,
    Record,
    Upward,
    batches,
    collection_pages,
    rkey,
)
from chive_admin.upstream.atproto import PageDecoder
from chive_admin.upstream.errors import ServerError

DID = "did:plc:listlistlistlistlistlistl"
COLLECTION = "pub.chive.review.comment"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


class FakePds:
    """listRecords over a key set, cursor = the last key of a page, as the reference PDS pages."""

    def __init__(self, keys: set[str], *, seed: int = 0, descending_default: bool = True, **quirks: bool) -> None:
        self.keys = sorted(keys)
        self.descending_default = descending_default
        self.quirks = quirks
        self.random = random.Random(seed)
        self.calls: list[tuple[str | None, bool]] = []

    async def iter_checked_pages(
        self,
        pds: str,
        did: str,
        collection: str,
        decode: PageDecoder[Record],
        *,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> AsyncIterator[Page]:
        while True:
            self.calls.append((cursor, reverse))
            await asyncio.sleep(self.random.random() / 1000)  # the two listings' answers interleave differently
            if reverse and self.quirks.get("reverse_fails"):
                raise ServerError("pds", "listRecords answered 500", status=500)
            if cursor is not None and not reverse and self.quirks.get("second_page_fails"):
                raise ServerError("pds", "listRecords answered 500", status=500)
            descending = self.descending_default != (reverse and not self.quirks.get("ignores_reverse"))
            ordered = list(reversed(self.keys)) if descending else self.keys
            if cursor is not None:
                ordered = [k for k in ordered if (k < cursor if descending else k > cursor)]
            chunk = ordered[:PAGE_SIZE]
            records = [{"uri": f"at://{DID}/{COLLECTION}/{k}", "cid": CID, "value": {}} for k in chunk]
            body = json.dumps({"records": records, "cursor": chunk[-1] if chunk else None}).encode()
            yield await decode(body, collection)
            if not chunk:
                return
            cursor = chunk[-1]


async def listed(pds: FakePds, position: Position = START, stop_after: int | None = None) -> tuple[list[str], Position]:
    got: list[str] = []
    last = position
    async with aclosing(collection_pages(pds, "http://pds", DID, COLLECTION, position)) as pages:  # type: ignore[arg-type]
        async for n, (records, pos) in aclosing_enumerate(pages):
            got += [rkey(r) for r in records]
            last = pos
            if stop_after is not None and n + 1 >= stop_after:
                break
    return got, last


async def aclosing_enumerate(pages: Any) -> AsyncIterator[tuple[int, Any]]:
    n = 0
    async for item in pages:
        yield n, item
        n += 1


def tids(count: int, seed: int = 0) -> set[str]:
    rnd = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add("3k" + "".join(rnd.choice("234567abcdefghijklmnopqrstuvwxyz") for _ in range(11)))
    return out


@settings(max_examples=60, deadline=None)
@given(
    count=st.sampled_from([0, 1, 99, 100, 101, 199, 200, 201, 299, 300, 301, 555, 1000]),
    seed=st.integers(0, 10_000),
    quirk=st.sampled_from(["none", "ignores_reverse", "ascending_default", "reverse_fails"]),
)
async def test_every_record_is_handed_out_exactly_once(count: int, seed: int, quirk: str) -> None:
    keys = tids(count, seed)
    pds = FakePds(
        keys,
        seed=seed,
        descending_default=quirk != "ascending_default",
        ignores_reverse=quirk == "ignores_reverse",
        reverse_fails=quirk == "reverse_fails",
    )
    got, _ = await listed(pds)
    assert sorted(got) == sorted(keys)
    assert len(got) == len(set(got))


@settings(max_examples=40, deadline=None)
@given(count=st.sampled_from([250, 555, 1000]), seed=st.integers(0, 10_000), stop=st.integers(1, 8))
async def test_a_resumed_listing_continues_from_the_committed_position(count: int, seed: int, stop: int) -> None:
    keys = tids(count, seed)
    first, position = await listed(FakePds(keys, seed=seed), stop_after=stop)
    stored = json.loads(json.dumps(position.to_json()))  # as the caller commits it
    rest, _ = await listed(FakePds(keys, seed=seed + 1), Position.from_json(stored))
    assert sorted(first + rest) == sorted(keys)
    assert len(first + rest) == len(set(first + rest))


async def test_the_second_listing_starts_only_for_a_large_collection_and_then_halves_the_chain() -> None:
    small = FakePds(tids(FULL_PAGES_BEFORE_SECOND * PAGE_SIZE - 1))
    await listed(small)
    assert not any(reverse for _, reverse in small.calls)

    large = FakePds(tids(40 * PAGE_SIZE))
    got, _ = await listed(large)
    assert len(got) == 40 * PAGE_SIZE
    down = [c for c in large.calls if not c[1]]
    up = [c for c in large.calls if c[1]]
    # both ends did a share of the work; the overlap where they met costs at most a page or two each
    assert up
    assert len(down) + len(up) <= 40 + 4


@pytest.mark.parametrize("quirk", ["ignores_reverse", "reverse_fails"])
async def test_a_pds_without_a_working_reverse_is_listed_by_the_first_listing_alone(quirk: str) -> None:
    keys = tids(1000)
    pds = FakePds(keys, **{quirk: True})
    got, position = await listed(pds)
    assert sorted(got) == sorted(keys)
    assert position.up is Upward.DROPPED


def keys_of(records: list[Record]) -> list[str]:
    return [rkey(r) for r in records]


async def test_batches_keep_both_listings_reading_while_the_caller_writes() -> None:
    keys = tids(20 * PAGE_SIZE)
    pds = FakePds(keys)
    got: list[str] = []
    sizes: list[int] = []
    read = batches(pds, "http://pds", DID, COLLECTION, keys_of)  # type: ignore[arg-type]
    async with aclosing(read) as each:
        first = await anext(each)
        asked_then = len(pds.calls)
        await asyncio.sleep(0.05)  # the caller writes its first batch
        # pages went on being asked for (the first listing's chain, and the second one's once started), up to
        # the pages held ahead: handing out one page at a time would have asked for the next one only
        assert len(pds.calls) >= asked_then + PAGES_AHEAD
        batch: Batch[list[str]] = first
        while True:
            got += [key for part in batch.parts for key in part]
            sizes.append(len(batch.parts))
            try:
                batch = await anext(each)
            except StopAsyncIteration:
                break
    assert sorted(got) == sorted(keys)
    assert len(got) == len(set(got))
    assert max(sizes) > 1  # what arrived during the write was taken as one batch
    assert max(sizes) <= PAGES_AHEAD
    assert batch.position.done


async def test_a_batch_counts_its_records_and_carries_the_position_after_its_last_page() -> None:
    keys = tids(5 * PAGE_SIZE)
    pds = FakePds(keys)
    read = batches(pds, "http://pds", DID, COLLECTION, keys_of)  # type: ignore[arg-type]
    async with aclosing(read) as each:
        first = await anext(each)
        await asyncio.sleep(0.05)
        second = await anext(each)
    assert first.records == sum(len(part) for part in first.parts)
    assert second.records == sum(len(part) for part in second.parts)
    # resuming from the second batch's position hands out exactly what neither batch held
    rest, _ = await listed(FakePds(keys), second.position)
    held = [key for batch in (first, second) for part in batch.parts for key in part]
    assert sorted(held + rest) == sorted(keys)


async def test_an_error_reading_a_page_is_raised_once_the_pages_before_it_are_handed_out() -> None:
    keys = tids(3 * PAGE_SIZE)
    pds = FakePds(keys, second_page_fails=True)
    got: list[str] = []

    async def read_all() -> None:
        async with aclosing(batches(pds, "http://pds", DID, COLLECTION, keys_of)) as each:  # type: ignore[arg-type]
            async for batch in each:
                got.extend(key for part in batch.parts for key in part)

    with pytest.raises(ServerError):
        await read_all()
    assert got == sorted(keys, reverse=True)[:PAGE_SIZE]


async def test_closing_batches_early_stops_the_reading() -> None:
    pds = FakePds(tids(50 * PAGE_SIZE))
    async with aclosing(batches(pds, "http://pds", DID, COLLECTION, keys_of)) as each:  # type: ignore[arg-type]
        await anext(each)
    asked = len(pds.calls)
    await asyncio.sleep(0.05)
    assert len(pds.calls) == asked


def test_a_position_is_stored_with_the_keys_it_always_had() -> None:
    # a pds-scan commits the position among its work item's own keys; a scan stored before the position was typed
    # resumes from it
    assert START.to_json() == {
        "cursor": None,
        "downEdge": None,
        "full": 0,
        "up": None,
        "upCursor": None,
        "upEdge": None,
        "done": False,
    }
    stored = {
        "pds": "https://pds.example",
        "handle": "a.example",
        "collections": [COLLECTION],
        "next": 0,
        "since": "2026-01-01T00:00:00.000000Z",
        "cursor": "3k2",
        "downEdge": "3k2",
        "full": 2,
        "up": "on",
        "upCursor": "3k0",
        "upEdge": "3k0",
        "done": False,
    }
    position = Position.from_json(stored)
    assert position == Position(
        cursor="3k2", down_edge="3k2", full=2, up=Upward.RUNNING, up_cursor="3k0", up_edge="3k0", done=False
    )
    assert position.to_json() == {k: v for k, v in stored.items() if k in START.to_json()}
    assert Position.from_json({**stored, "up": "off"}).up is Upward.DROPPED
    assert Position.from_json({"pds": "https://pds.example"}) == START
