"""Retries, rate limits, caps and typed errors of upstream XRPC calls, through the upstream client, against a real
loopback server."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import IO

import httpx
import pytest
from support.metrics import ByteCount
from support.scripted import Answer, Script, scripted_server

from chive_admin._generated import ids
from chive_admin.ingest.page_checker import PageChecker, check_here
from chive_admin.upstream import errors
from chive_admin.upstream.atproto import AtprotoClient, InvalidAnswer, car_header_problem
from chive_admin.upstream.calls import RetryPolicy, XrpcCaller, rate_limit_wait
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.hosts import HostLimits, HostPolicy, host_key

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, default_429_wait=0.05, max_429_wait=0.2)
DID = "did:plc:upstream00000000000000000"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


def j(data: object, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(data).encode(), {"content-type": "application/json", **headers})


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as running:
        yield running


@pytest.fixture
def received() -> ByteCount:
    return ByteCount()


@pytest.fixture
async def caller(received: ByteCount) -> AsyncIterator[XrpcCaller]:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0), on_bytes=received) as http:
        yield XrpcCaller(http, HostPolicy(HostLimits(failures_to_trip=20)), FAST)


async def test_retries_5xx_resets_and_bad_json_then_succeeds(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    script.push(
        j({"error": "InternalServerError"}, 500),
        Answer(502, b"bad gateway", {"content-type": "text/plain"}),
        Answer(200, b"{not json", {"content-type": "application/json"}),
        j({"repos": []}),
    )
    assert await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {"limit": 10}) == {"repos": []}
    assert len(script.seen) == 4
    assert script.seen[0].endswith("limit=10")


async def test_truncated_body_is_retried(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    body = json.dumps({"repos": [], "cursor": "x" * 5000}).encode()
    script.push(Answer(200, body, truncate_at=100), j({"repos": []}))
    assert await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}) == {"repos": []}


async def test_4xx_is_typed_and_not_retried(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    script.push(j({"error": "RecordNotFound", "message": "Could not locate record"}, 400))
    with pytest.raises(errors.RecordNotFound) as info:
        await caller.query_json(url, ids.COM_ATPROTO_REPO_GET_RECORD, {})
    assert info.value.code == "record_not_found"
    assert len(script.seen) == 1
    script.push(j({"error": "InvalidRequest", "message": "Could not find repo: did:plc:x"}, 400))
    with pytest.raises(errors.RepoNotFound):
        await caller.query_json(url, ids.COM_ATPROTO_REPO_LIST_RECORDS, {})
    script.push(j({"error": "RepoDeactivated", "message": "deactivated"}, 400))
    with pytest.raises(errors.RepoDeactivated):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_GET_REPO, {})
    script.push(j({"error": "MethodNotImplemented"}, 501))
    with pytest.raises(errors.MethodNotImplemented):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_GET_REPO, {})
    assert len(script.seen) == 4


async def test_429_waits_as_asked_then_succeeds(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    script.push(j({"error": "RateLimitExceeded"}, 429, **{"retry-after": "0.15"}), j({"repos": []}))
    start = time.monotonic()
    await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert time.monotonic() - start >= 0.15  # the wait itself is the behaviour under test, not a speed claim


def test_rate_limit_wait_headers() -> None:
    policy = RetryPolicy()
    assert rate_limit_wait(httpx.Headers({"ratelimit-reset": "1010"}), policy, now=1000) == 10
    assert rate_limit_wait(httpx.Headers({"retry-after": "7"}), policy, now=1000) == 7
    assert rate_limit_wait(httpx.Headers({"retry-after": "Thu, 01 Jan 1970 00:16:50 GMT"}), policy, now=1000) == 10
    assert rate_limit_wait(httpx.Headers({}), policy) == 5
    assert rate_limit_wait(httpx.Headers({"retry-after": "99999"}), policy) == 120
    assert rate_limit_wait(httpx.Headers({"ratelimit-reset": "5"}), policy, now=1000) == 0
    assert rate_limit_wait(httpx.Headers({"retry-after": "soon"}), policy) == 5


async def test_stall_past_the_read_timeout_is_unreachable(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, b"{}", delay=1.0)
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(0.2)) as http:
        caller = XrpcCaller(http, HostPolicy(), RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.001))
        with pytest.raises(errors.Unreachable):
            await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert len(script.seen) == 2


async def test_size_caps(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = Answer(200, b"x" * 200_000, {"content-type": "application/octet-stream"})
    async with upstream_http(allow_private=True) as http:
        caller = XrpcCaller(http, HostPolicy(), RetryPolicy(max_json_bytes=1000, base_delay=0.001, max_delay=0.001))
        with pytest.raises(errors.TooLarge):
            await caller.query_file(url, ids.COM_ATPROTO_SYNC_GET_BLOB, {}, max_bytes=100_000)
        with pytest.raises(errors.TooLarge):
            await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
        spool, media = await caller.query_file(url, ids.COM_ATPROTO_SYNC_GET_BLOB, {}, max_bytes=300_000)
        with spool:
            assert len(spool.read()) == 200_000
        assert media == "application/octet-stream"


async def test_wrong_content_type_is_bad_response(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    script.default = Answer(200, b"<html>", {"content-type": "text/html"})
    with pytest.raises(errors.BadResponse, match="text/html"):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_json_number_constants_are_a_bad_response(
    server: tuple[str, Script], caller: XrpcCaller, constant: bytes
) -> None:
    # Python's parser would take them; stored, NaN would be no JSON at all (and the data model has no floats)
    url, script = server
    script.default = Answer(200, b'{"repos": [], "x": ' + constant + b"}", {"content-type": "application/json"})
    with pytest.raises(errors.BadResponse, match="invalid JSON"):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})


async def test_json_nested_past_the_recursion_limit_is_a_bad_response(
    server: tuple[str, Script], caller: XrpcCaller
) -> None:
    # a few kilobytes from a hostile PDS; Python's parser raises RecursionError for them, which escaped the job
    url, script = server
    deep = b"[" * 5000 + b"]" * 5000
    script.default = Answer(200, b'{"repos": ' + deep + b"}", {"content-type": "application/json"})
    with pytest.raises(errors.BadResponse, match="invalid JSON"):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    script.default = Answer(400, b'{"error": ' + deep + b"}", {"content-type": "application/json"})
    with pytest.raises(errors.UpstreamError) as failed:  # an error body that says nothing readable
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert failed.value.status == 400


async def test_breaker_opens_after_repeated_failures_and_fails_fast(server: tuple[str, Script]) -> None:
    url, script = server
    script.default = j({"error": "InternalServerError"}, 503)
    hosts = HostPolicy(HostLimits(failures_to_trip=3, open_seconds=60))
    async with upstream_http(allow_private=True) as http:
        caller = XrpcCaller(http, hosts, RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.001))
        for _ in range(3):  # calls that fail after all their retries count, not single attempts
            with pytest.raises(errors.ServerError):
                await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
        assert len(script.seen) == 15
        with pytest.raises(errors.HostUnhealthy):
            await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
        assert len(script.seen) == 15  # refused without a request
    assert not hosts.is_healthy(host_key(url))


async def test_answers_are_checked_against_the_lexicon(server: tuple[str, Script], caller: XrpcCaller) -> None:
    url, script = server
    client = AtprotoClient(caller)
    script.push(j({"repos": [{"did": "not a did", "head": "bafyrei", "rev": "x"}]}))
    with pytest.raises(InvalidAnswer, match="repos"):
        await client.list_repos(url)
    script.push(j({"cursor": "c1", "records": []}))
    pages = [page async for page in client.iter_record_pages(url, DID, ids.PUB_CHIVE_REVIEW_COMMENT)]
    assert len(pages) == 1  # an empty page ends the listing even if a cursor comes back


@pytest.mark.parametrize("in_process", [True, False], ids=["on the loop", "in a reader"])
async def test_a_page_decoded_elsewhere_is_retried_when_not_json_and_refused_when_not_the_lexicons(
    server: tuple[str, Script], caller: XrpcCaller, in_process: bool
) -> None:
    url, script = server
    client = AtprotoClient(caller)
    checker = PageChecker()
    decode = check_here if in_process else checker.check
    record = {"uri": f"at://{DID}/{ids.PUB_CHIVE_REVIEW_COMMENT}/3kabc", "cid": CID, "value": {"x": 1}}
    try:
        # a truncated answer is tried again, as any answer that is not JSON
        script.push(Answer(200, b'{"records": [', {"content-type": "application/json"}), j({"records": [record]}))
        page = await client.list_checked_records(url, DID, ids.PUB_CHIVE_REVIEW_COMMENT, decode)
        assert (page.cursor, [row[1] for row in page.records]) == (None, ["3kabc"])
        assert len(script.seen) == 2
        # JSON that is not the lexicon's answer is refused at once
        script.push(j({"records": [{**record, "uri": "nope"}]}), j({"records": []}))
        with pytest.raises(InvalidAnswer, match=r"listRecords: Invalid answer: records\[0\]\.uri"):
            await client.list_checked_records(url, DID, ids.PUB_CHIVE_REVIEW_COMMENT, decode, reverse=True)
        assert len(script.seen) == 3
        assert "reverse=true" in str(script.seen[-1])
    finally:
        await checker.close()


async def _started(script: Script, count: int) -> None:
    while script.in_flight < count:
        await asyncio.sleep(0.005)


@pytest.fixture
async def one_at_a_time() -> AsyncIterator[XrpcCaller]:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(10.0)) as http:
        caller = XrpcCaller(http, HostPolicy(HostLimits(concurrency=1)), FAST)
        yield caller
        await caller.aclose()


async def test_an_abandoned_query_keeps_its_slot_until_the_host_answers(
    server: tuple[str, Script], one_at_a_time: XrpcCaller
) -> None:
    url, script = server
    script.push(replace(j({"repos": [], "cursor": "first"}), delay=0.3), j({"repos": []}))
    first = asyncio.create_task(one_at_a_time.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}))
    await _started(script, 1)
    first.cancel()
    await asyncio.wait([first])
    assert first.cancelled()
    assert script.in_flight == 1  # the caller let go at once; the host is still working on the request
    assert await one_at_a_time.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}) == {"repos": []}
    assert len(script.seen) == 2
    assert script.peak_in_flight == 1  # the second request waited for the first's answer: the limit held


async def test_an_abandoned_export_is_cut_and_frees_its_slot_at_once(
    server: tuple[str, Script], one_at_a_time: XrpcCaller
) -> None:
    url, script = server
    script.push(Answer(200, b"x" * 1000, {"content-type": "application/vnd.ipld.car"}, delay=1.5), j({"repos": []}))
    export = asyncio.create_task(
        one_at_a_time.query_file(url, ids.COM_ATPROTO_SYNC_GET_REPO, {"did": DID}, max_bytes=10_000)
    )
    await _started(script, 1)
    export.cancel()
    await asyncio.wait([export])
    assert await one_at_a_time.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}) == {"repos": []}
    assert script.peak_in_flight == 2  # not drained: the next request went out while the export was still pending


async def test_closing_cuts_the_requests_still_draining(server: tuple[str, Script]) -> None:
    url, script = server
    script.push(replace(j({"repos": []}), delay=1.5))
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(60.0)) as http:
        caller = XrpcCaller(http, HostPolicy(HostLimits(concurrency=1)), FAST)
        abandoned = asyncio.create_task(caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}))
        await _started(script, 1)
        abandoned.cancel()
        await asyncio.wait([abandoned])
        await caller.aclose()
        # the slot the drained request held is free again, while the host is still working on that request
        await caller.hosts.acquire(host_key(url))
        assert script.in_flight == 1


# -- a hostile server: a total deadline per request, decoded sizes checked as they stream -----------------------------


async def test_an_answer_dripping_a_byte_at_a_time_ends_at_its_total_deadline_and_is_not_retried(
    server: tuple[str, Script],
) -> None:
    # every byte comes well within the read timeout, so only a deadline on the whole exchange can end it
    url, script = server
    script.default = Answer(200, b" " * 10_000, drip=0.05)
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0)) as http:
        caller = XrpcCaller(http, HostPolicy(), replace(FAST, deadline=0.5))
        async with asyncio.timeout(30):  # a limit for the test, not a claim: without a deadline it takes 500 s
            with pytest.raises(errors.DeadlineExceeded) as info:
                await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert info.value.code == "upstream_deadline_exceeded"
    assert "deadline" in str(info.value)
    assert len(script.seen) == 1  # a drip is no hiccup: the same request would drip again


async def test_an_export_may_run_past_the_deadline_while_it_keeps_a_minimum_rate(server: tuple[str, Script]) -> None:
    url, script = server
    body = bytes(range(256)) * 2048  # 512 KiB
    steady = Answer(200, body, {"content-type": "application/octet-stream"}, drip=0.1, drip_bytes=32 * 1024)
    script.push(steady, steady, Answer(200, body[:2000], {"content-type": "application/octet-stream"}, drip=0.05))
    # a rate of 16 KiB/s is far below the steady answer's 320 KiB/s; the drip's 20 B/s is far below it
    policy = replace(FAST, deadline=0.5, export_min_rate=16 * 1024)
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0)) as http:
        caller = XrpcCaller(http, HostPolicy(), policy)
        spool, _ = await caller.query_file(url, ids.COM_ATPROTO_SYNC_GET_BLOB, {}, max_bytes=len(body))
        with spool:
            assert spool.read() == body
        with pytest.raises(errors.DeadlineExceeded):  # a JSON answer gets the deadline alone
            await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
        with pytest.raises(errors.DeadlineExceeded):
            await caller.query_file(url, ids.COM_ATPROTO_SYNC_GET_BLOB, {}, max_bytes=len(body))
    assert len(script.seen) == 3


async def test_a_gzip_bomb_export_is_refused_from_its_first_bytes_once(
    server: tuple[str, Script], caller: XrpcCaller, received: ByteCount
) -> None:
    url, script = server
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in about 64 KB
    script.default = Answer(200, bomb, {"content-type": "application/vnd.ipld.car", "content-encoding": "gzip"})
    with pytest.raises(errors.RefusedContent, match="CAR header") as info:
        await caller.query_file(
            url, ids.COM_ATPROTO_SYNC_GET_REPO, {"did": DID}, max_bytes=1 << 31, check=car_header_problem
        )
    assert info.value.code == "upstream_refused_content"
    assert len(script.seen) == 1  # refused for what it is: asking again brings the same
    assert 0 < received["inflated"] <= 1024 * 1024  # the first piece was inflated, not the 64 MiB


async def test_a_gzip_bomb_json_answer_is_inflated_no_further_than_the_cap(
    server: tuple[str, Script], received: ByteCount
) -> None:
    url, script = server
    bomb = gzip.compress(b"[" * (64 * 1024 * 1024), compresslevel=9)
    script.default = Answer(200, bomb, {"content-type": "application/json", "content-encoding": "gzip"})
    async with upstream_http(allow_private=True, on_bytes=received) as http:
        caller = XrpcCaller(http, HostPolicy(), replace(FAST, max_json_bytes=1024 * 1024))
        with pytest.raises(errors.TooLarge):
            await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert len(script.seen) == 1
    assert received["inflated"] <= 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("encoding", "body"),
    [("br", b"\x0b\x02\x80{}\x03"), ("gzip, gzip", gzip.compress(gzip.compress(b"{}"))), ("gzip", b"not gzip at all")],
)
async def test_an_answer_in_an_encoding_not_asked_for_or_broken_is_refused_once(
    server: tuple[str, Script], caller: XrpcCaller, encoding: str, body: bytes
) -> None:
    url, script = server
    script.default = Answer(200, body, {"content-type": "application/json", "content-encoding": encoding})
    with pytest.raises(errors.RefusedContent, match=r"encod|inflate|compressed"):
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert len(script.seen) == 1


async def test_a_429_asking_for_more_than_the_policy_sits_out_is_raised_at_once(
    server: tuple[str, Script], caller: XrpcCaller
) -> None:
    url, script = server
    far = str(int(time.time()) + 3600)
    script.push(j({"error": "RateLimitExceeded"}, 429, **{"ratelimit-reset": far}), j({"repos": []}))
    caller.retry = replace(FAST, give_up_429_over=60.0)
    with pytest.raises(errors.RateLimited) as limited:
        await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {})
    assert len(script.seen) == 1
    assert limited.value.asked_s > 3500
    assert limited.value.wait_s == FAST.max_429_wait
    # a near one is waited out as always
    script.answers.clear()
    script.push(j({"error": "RateLimitExceeded"}, 429, **{"retry-after": "0.05"}), j({"repos": []}))
    assert await caller.query_json(url, ids.COM_ATPROTO_SYNC_LIST_REPOS, {}) == {"repos": []}


async def test_a_file_read_as_it_arrives_goes_on_where_it_broke_off(
    server: tuple[str, Script], caller: XrpcCaller
) -> None:
    url, script = server
    body = bytes(range(256)) * 1024  # 256 KiB
    car = {"content-type": "application/octet-stream"}
    # the first attempt breaks off after 100 KB were handed on; the second answers them again, then the rest
    script.push(Answer(200, body, car, truncate_at=100_000), Answer(200, body, car, drip=0.0, drip_bytes=32 * 1024))
    seen: list[int] = []
    files: set[int] = set()

    def progress(file: IO[bytes], size: int) -> None:
        with open(file.name, "rb") as reader:  # what another process reading it by name sees
            assert reader.read() == body[:size]
        seen.append(size)
        files.add(id(file))

    spool, _ = await caller.query_file(
        url, ids.COM_ATPROTO_SYNC_GET_REPO, {"did": DID}, max_bytes=len(body), on_disk=True, progress=progress
    )
    with spool:
        assert spool.read() == body
    assert len(script.seen) == 2
    assert len(files) == 1  # one file, grown across both attempts
    assert seen == sorted(seen)
    assert seen[-1] == len(body)
    assert any(size <= 100_000 for size in seen)  # bytes were handed on before the break


async def test_a_file_that_answers_other_bytes_after_a_break_is_not_continued(
    server: tuple[str, Script], caller: XrpcCaller
) -> None:
    url, script = server
    body = bytes(range(256)) * 1024
    changed = body[:50_000] + b"\xff" + body[50_001:]
    car = {"content-type": "application/octet-stream"}
    script.push(Answer(200, body, car, truncate_at=100_000), Answer(200, changed, car), Answer(200, body, car))
    names: list[str] = []

    def progress(file: IO[bytes], size: int) -> None:
        names.append(file.name)

    with pytest.raises(errors.AnswerChanged) as info:
        await caller.query_file(
            url, ids.COM_ATPROTO_SYNC_GET_REPO, {"did": DID}, max_bytes=len(body), on_disk=True, progress=progress
        )
    assert info.value.code == "upstream_answer_changed"
    assert not info.value.retryable
    assert len(script.seen) == 2  # not asked a third time
    assert names
    assert not os.path.exists(names[0])  # the file is deleted with the failure
