"""Listing pages checked in a reader process of their own: answers in order however many are in flight, refusals as
the listing path refused them, a reader that dies mid-page replaced, and a page that kills two refused."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chive_admin.ingest.export_readers import ExportReaders
from chive_admin.ingest.page_checker import PageChecker, check_here
from chive_admin.ingest.reader_processes import ReaderFailed
from chive_admin.repo.rows import page_rows
from chive_admin.upstream.atproto import CheckedPage, PageRefused
from testnet import records as lexicon_records

DID = "did:plc:pagepagepagepagepagepagep"
COMMENT = lexicon_records.COMMENT
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


@functools.cache  # the same page each time: a comment's createdAt is the time it was made
def page(n: int, size: int = 100) -> bytes:
    """A listRecords answer: ``size`` records, every tenth one invalid, the cursor naming the page."""
    eprint = f"at://{DID}/{lexicon_records.SUBMISSION}/3kabc"
    records = [
        {
            "uri": f"at://{DID}/{COMMENT}/3k{n:04d}{i:03d}",
            "cid": CID,
            "value": {"$type": COMMENT} if i % 10 == 0 else lexicon_records.review_comment(eprint_uri=eprint),
        }
        for i in range(size)
    ]
    return json.dumps({"records": records, "cursor": f"page-{n}"}).encode()


def expected(body: bytes) -> CheckedPage[tuple[str, str, str, str | None, str | None]]:
    return CheckedPage(*page_rows(body, COMMENT))


@pytest.fixture
async def checker() -> AsyncIterator[PageChecker]:
    pages = PageChecker()
    yield pages
    await pages.close()


def pid_of(checker: PageChecker) -> int:
    assert checker._line is not None
    return checker._line.reader.process.pid


async def test_pages_in_flight_together_each_get_their_own_rows(checker: PageChecker) -> None:
    bodies = [page(n, size=n % 7 * 20) for n in range(60)]
    got = await asyncio.gather(*(checker.check(body, COMMENT) for body in bodies))
    assert got == [expected(body) for body in bodies]
    assert got[1].cursor == "page-1"
    assert sum(row[3] is None for row in got[1].records) == 2  # the invalid records are rows with their problem


async def test_an_answer_that_is_not_json_or_not_the_lexicons_is_refused_as_on_the_loop(checker: PageChecker) -> None:
    for decode in (checker.check, check_here):
        with pytest.raises(ValueError, match="Expecting value"):  # what the call makes a BadResponse
            await decode(b'{"records": [', COMMENT)
        with pytest.raises(PageRefused) as refused:
            await decode(b'{"records": [{"uri": "nope"}]}', COMMENT)
        assert str(refused.value).startswith("Invalid answer: records[0].uri: ")
        assert await decode(page(1), COMMENT) == expected(page(1))


async def test_a_caller_that_stops_waiting_leaves_the_other_answers_in_order(checker: PageChecker) -> None:
    await checker.warm()
    first = asyncio.ensure_future(checker.check(page(0), COMMENT))
    rest = [asyncio.ensure_future(checker.check(page(n), COMMENT)) for n in range(1, 5)]
    await asyncio.sleep(0)  # all sent
    first.cancel()
    assert await asyncio.gather(*rest) == [expected(page(n)) for n in range(1, 5)]
    assert await checker.check(page(9), COMMENT) == expected(page(9))


async def test_pages_in_flight_when_the_reader_dies_are_checked_by_a_new_one(checker: PageChecker) -> None:
    await checker.warm()
    before = pid_of(checker)
    bodies = [page(n) for n in range(30)]
    checking = asyncio.gather(*(checker.check(body, COMMENT) for body in bodies))
    await asyncio.sleep(0)  # all sent to the first reader
    os.kill(before, 9)
    assert await checking == [expected(body) for body in bodies]
    assert pid_of(checker) != before


async def test_a_page_that_ends_its_checker_twice_is_refused_and_the_others_are_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a page that crashes the decoder, as a hostile one might: the readers exit when they come to it
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import os
            from chive_admin.repo import rows

            decode = rows.page_rows

            def page_rows(body, collection):
                if b"deadly" in body:
                    os._exit(70)
                return decode(body, collection)

            rows.page_rows = page_rows
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    checker = PageChecker()
    try:
        bodies = [page(n) for n in range(10)]
        checks = [checker.check(body, COMMENT) for body in bodies[:5]]
        checks.append(checker.check(b'{"deadly": true}', COMMENT))
        checks += [checker.check(body, COMMENT) for body in bodies[5:]]
        got = await asyncio.gather(*checks, return_exceptions=True)
        refused = got.pop(5)
        assert isinstance(refused, PageRefused)
        assert "ended the process checking it twice" in str(refused)
        # the pages behind it were sent again, to a new reader each time: every one answered
        assert got == [expected(body) for body in bodies]
        assert await checker.check(page(11), COMMENT) == expected(page(11))
    finally:
        await checker.close()


async def test_a_closed_checker_stops_its_process_and_checks_nothing() -> None:
    checker = PageChecker()
    await checker.warm()
    assert checker._line is not None
    process = checker._line.reader.process
    await checker.close()
    assert process.returncode is not None
    with pytest.raises(ReaderFailed):
        await checker.check(page(1), COMMENT)


async def test_the_export_readers_start_and_stop_the_page_checker_with_them() -> None:
    readers = ExportReaders(1)
    await readers.warm()
    assert await readers.pages.check(page(2), COMMENT) == expected(page(2))
    assert readers.pages._line is not None
    process = readers.pages._line.reader.process
    await readers.close()
    assert process.returncode is not None
