"""Typed ATProto calls against a scripted PDS: listings follow cursors to their end and stop at any repeated one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request
from support.scripted import Answer, Script, scripted_server

from chive_admin.upstream import atproto
from chive_admin.upstream.atproto import AtprotoClient, CursorLoop

DID = "did:plc:atproto0000000000000000000"
COLLECTION = "pub.chive.review.comment"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


def cycling(cycle: list[str], page: object) -> Answer:
    """Every page names the cursor after the one it was asked for, round the cycle (``a -> b -> c -> a ...``)."""

    def answer(request: Request) -> Answer:
        asked = parse_qs(urlsplit(str(request.url)).query).get("cursor", [None])[0]
        after = cycle[(cycle.index(asked) + 1) % len(cycle)] if asked in cycle else cycle[0]
        return Answer(200, json.dumps({**page, "cursor": after}).encode())  # type: ignore[dict-item]

    return answer  # type: ignore[return-value]


def repo(n: int) -> dict[str, object]:
    return {"did": f"did:plc:{n:024d}", "head": CID, "rev": "3kabcdefghi22"}


def record(n: int) -> dict[str, object]:
    return {"uri": f"at://{DID}/{COLLECTION}/{n:013d}", "cid": CID, "value": {"n": n}}


@pytest.mark.parametrize("cycle", [["a", "b"], ["a", "b", "c", "d", "e"]])
async def test_a_listrepos_cursor_cycle_is_an_error_at_the_first_repeat(
    server: tuple[str, Script], upstream: AtprotoClient, cycle: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atproto, "MAX_PAGES", 1000)  # only the bound would stop a listing that misses the loop
    url, script = server
    script.default = cycling(cycle, {"repos": [repo(1)]})
    pages: list[object] = []

    async def read_all() -> None:
        async for page in upstream.iter_repo_pages(url):
            pages.append(page)

    with pytest.raises(CursorLoop, match="repeated") as refused:
        await read_all()
    assert refused.value.code == "upstream_cursor_loop"
    assert not refused.value.retryable
    # the first page, one page per cursor of the cycle, and the page that named a cursor already followed
    assert len(pages) == len(script.seen) == len(cycle) + 1


async def test_a_listrecords_cursor_cycle_is_an_error_in_either_direction(
    server: tuple[str, Script], upstream: AtprotoClient
) -> None:
    url, script = server
    script.default = cycling(["x", "y", "z"], {"records": [record(1)]})
    for reverse in (False, True):
        with pytest.raises(CursorLoop):
            async for _ in upstream.iter_record_pages(url, DID, COLLECTION, reverse=reverse):
                pass
    assert len(script.seen) == 8


async def test_a_cursor_resent_as_the_next_one_still_ends_the_listing(
    server: tuple[str, Script], upstream: AtprotoClient
) -> None:
    # a PDS that answers its last page with the cursor it was given: the end, not a loop
    url, script = server
    script.push(
        Answer(200, json.dumps({"repos": [repo(1)], "cursor": "a"}).encode()),
        Answer(200, json.dumps({"repos": [repo(2)], "cursor": "a"}).encode()),
    )
    assert [page.repos[0].did async for page in upstream.iter_repo_pages(url)] == [repo(1)["did"], repo(2)["did"]]


async def test_the_cursors_kept_are_bounded_and_a_listing_past_the_bound_is_an_error(
    server: tuple[str, Script], upstream: AtprotoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atproto, "MAX_PAGES", 50)
    url, script = server
    script.default = cycling([str(n) for n in range(1000)], {"repos": [repo(1)]})
    with pytest.raises(CursorLoop, match="did not end after 50 pages"):
        async for _ in upstream.iter_repo_pages(url):
            pass
    assert len(script.seen) == 51  # the first page, then 50 cursors followed
