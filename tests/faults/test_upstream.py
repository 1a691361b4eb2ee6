"""The upstream stack (XrpcCaller, HostPolicy, AtprotoClient) behind the fault proxy, in front of a loopback PDS.

The PDS here is a small real HTTP server answering listRecords/listRepos/getRepo from fixed data, paged by cursor as
the reference PDS pages; the proxy between makes it misbehave. The listings must come back exactly; a PDS that never
recovers must end in a typed error after a bounded number of requests; 429 waits must be honoured; a 50 MB answer
must hit the size cap without being held.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import libipld
import pytest
from starlette.requests import Request
from support.scripted import Answer, scripted_server

from chive_admin._generated import ids
from chive_admin.upstream import errors
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.calls import RetryPolicy, XrpcCaller
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.hosts import HostLimits, HostPolicy, host_key
from faults.proxy import ALL_FAULTS, TRANSIENT, Fault, FaultConfig, FaultProxy

MB = 1024 * 1024
COLLECTION = "pub.chive.review.comment"
OTHER = "pub.chive.eprint.submission"
#: a read timeout short enough that a stall costs little, long enough for any loopback answer
READ_TIMEOUT = 0.5
#: retries fast and 429 waits capped short: these tests are about outcomes; waits have their own tests below
FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01, default_429_wait=0.05, max_429_wait=0.05)
_B32_SORT = "234567abcdefghijklmnopqrstuvwxyz"


def tid(n: int) -> str:
    value = ((1_700_000_000_000_000 + n) << 10) | 7
    return "".join(_B32_SORT[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def cid_of(data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return "b" + base64.b32encode(bytes([0x01, 0x71, 0x12, 0x20]) + digest).decode().lower().rstrip("=")


def did_of(n: int) -> str:
    return "did:plc:" + "".join(_B32_SORT[(n >> (5 * i)) & 31] for i in range(24))


@dataclass
class FakePds:
    """Fixed repository data, listed like the reference PDS: cursor = last key of a non-empty page."""

    did: str
    records: dict[str, list[dict[str, Any]]]
    repos: list[dict[str, Any]]
    car: bytes

    def answer(self, request: Request) -> Answer:
        query = {k: v[0] for k, v in parse_qs(request.url.query).items()}
        limit = int(query.get("limit", "50"))
        cursor = query.get("cursor")
        if request.url.path == f"/xrpc/{ids.COM_ATPROTO_REPO_LIST_RECORDS}":
            if query.get("repo") != self.did:
                return _json({"error": "InvalidRequest", "message": f"Could not find repo: {query.get('repo')}"}, 400)
            rows = self.records.get(query["collection"], [])
            page = [r for r in rows if cursor is None or r["uri"].rsplit("/", 1)[1] > cursor][:limit]
            out: dict[str, Any] = {"records": page}
            if page:
                out["cursor"] = page[-1]["uri"].rsplit("/", 1)[1]
            return _json(out)
        if request.url.path == f"/xrpc/{ids.COM_ATPROTO_SYNC_LIST_REPOS}":
            repos = [r for r in self.repos if cursor is None or r["did"] > cursor][:limit]
            out = {"repos": repos}
            if repos:
                out["cursor"] = repos[-1]["did"]
            return _json(out)
        if request.url.path == f"/xrpc/{ids.COM_ATPROTO_SYNC_GET_REPO}":
            return Answer(200, self.car, {"content-type": "application/vnd.ipld.car"})
        return _json({"error": "MethodNotImplemented", "message": "not here"}, 501)


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(data).encode(), {"content-type": "application/json; charset=utf-8"})


def make_pds(records: int = 2500, other: int = 130, repos: int = 2300) -> FakePds:
    did = did_of(1)

    def rows(collection: str, count: int, offset: int) -> list[dict[str, Any]]:
        out = []
        for i in range(count):
            value = {"$type": collection, "n": i, "text": f"record {i} ✓"}
            out.append({"uri": f"at://{did}/{collection}/{tid(offset + i)}", "cid": cid_of(value), "value": value})
        return out

    repo_rows = sorted(
        ({"did": did_of(1000 + i), "head": cid_of({"head": i}), "rev": tid(i), "active": True} for i in range(repos)),
        key=lambda r: str(r["did"]),
    )
    return FakePds(
        did,
        {COLLECTION: rows(COLLECTION, records, 0), OTHER: rows(OTHER, other, 10**6)},
        repo_rows,
        car_bytes(),
    )


def car_bytes() -> bytes:
    """A CAR v1 header (varint length, CBOR map) followed by opaque block bytes: enough to pass the export check."""
    header = libipld.encode_dag_cbor({"version": 1, "roots": []})
    return bytes([len(header)]) + header + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def pds() -> Iterator[tuple[str, FakePds]]:
    fake = make_pds()
    with scripted_server() as (url, script):
        script.default = fake.answer
        yield url, fake


@asynccontextmanager
async def stack(
    proxy_url: str, retry: RetryPolicy = FAST, limits: HostLimits | None = None
) -> AsyncIterator[tuple[AtprotoClient, HostPolicy]]:
    """The production pieces: the guarded HTTP client (private addresses allowed for loopback), caller, policy."""
    hosts = HostPolicy(limits or HostLimits(failures_to_trip=retry.attempts))
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(10.0, read=READ_TIMEOUT)) as http:
        yield AtprotoClient(XrpcCaller(http, hosts, retry)), hosts


async def all_records(client: AtprotoClient, url: str, did: str, collection: str) -> list[dict[str, Any]]:
    return [
        {"uri": r.uri, "cid": r.cid, "value": r.value}
        async for page in client.iter_record_pages(url, did, collection)
        for r in page.records
    ]


async def all_repos(client: AtprotoClient, url: str) -> list[dict[str, Any]]:
    return [
        {"did": r.did, "head": r.head, "rev": r.rev, "active": r.active}
        async for page in client.iter_repo_pages(url)
        for r in page.repos
    ]


# -- 30 % of calls faulted: the listings come back exact ---------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_paging_records_and_repos_through_30_percent_faults_is_exact(pds: tuple[str, FakePds], seed: int) -> None:
    url, fake = pds
    async with (
        FaultProxy(url, FaultConfig(rate=0.3, seed=seed, kinds=TRANSIENT)) as proxy,
        stack(proxy.url) as (
            client,
            hosts,
        ),
    ):
        records = await all_records(client, proxy.url, fake.did, COLLECTION)
        repos = await all_repos(client, proxy.url)
        stats = proxy.stats()
        assert hosts.is_healthy(host_key(proxy.url))
    assert records == fake.records[COLLECTION]  # every record, once, in order
    assert repos == fake.repos
    pages = len(fake.records[COLLECTION]) // 100 + 1 + len(fake.repos) // 1000 + 1 + 1  # + the empty last pages
    assert stats.calls == pages + stats.faulted  # each fault cost exactly one retried request
    assert stats.faulted >= 5
    assert len(stats.faults) >= 4  # a spread of kinds, not one


async def test_concurrent_listings_through_30_percent_faults_are_exact(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    async with FaultProxy(url, FaultConfig(rate=0.3, seed=11)) as proxy, stack(proxy.url) as (client, _):
        got = await asyncio.gather(
            *(all_records(client, proxy.url, fake.did, c) for c in (COLLECTION, OTHER, COLLECTION, OTHER)),
            all_repos(client, proxy.url),
        )
        stats = proxy.stats()
    assert got == [fake.records[COLLECTION], fake.records[OTHER]] * 2 + [fake.repos]
    assert stats.faulted > 10
    assert set(stats.faults) == set(TRANSIENT)


#: every transient kind is ridden out; a 200 that is not a CAR is not transient for an export (it is refused at once)
EXPORT_KINDS = tuple(kind for kind in TRANSIENT if kind is not Fault.INVALID_JSON)


async def test_export_through_30_percent_faults_is_whole(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    async with (
        FaultProxy(url, FaultConfig(rate=0.3, seed=5, kinds=EXPORT_KINDS)) as proxy,
        stack(proxy.url) as (
            client,
            _,
        ),
    ):
        for _ in range(20):
            with await client.get_repo(proxy.url, fake.did) as car:
                assert car.read() == fake.car
        stats = proxy.stats()
    assert stats.faulted >= 5
    # a CAR under a wrong content type is still the CAR: the bytes are checked, not the type
    assert stats.calls == 20 + stats.faulted - stats.faults[Fault.WRONG_CONTENT_TYPE]


async def test_a_200_export_that_is_not_a_car_is_refused_at_once_not_retried(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    async with (
        FaultProxy(url, FaultConfig(rate=0.0, plan=(Fault.INVALID_JSON,))) as proxy,
        stack(proxy.url) as (
            client,
            _,
        ),
    ):
        with pytest.raises(errors.RefusedContent, match="not a CBOR map"):
            await client.get_repo(proxy.url, fake.did)
        calls = proxy.stats().calls
        with await client.get_repo(proxy.url, fake.did) as car:  # the next call is a new request
            assert car.read() == fake.car
    assert calls == 1


# -- a PDS that never recovers: a typed error, after a bounded number of requests --------------------------------

EXPECTED: dict[Fault, type[errors.UpstreamError]] = {
    Fault.HTTP_500: errors.ServerError,
    Fault.HTTP_502: errors.ServerError,
    Fault.HTTP_503: errors.ServerError,
    Fault.RETRY_AFTER: errors.RateLimited,
    Fault.RATELIMIT_RESET: errors.RateLimited,
    Fault.STALL: errors.Unreachable,
    Fault.RESET_BEFORE: errors.Unreachable,
    Fault.RESET_MID_BODY: errors.Unreachable,
    Fault.TRUNCATED: errors.Unreachable,
    Fault.INVALID_JSON: errors.BadResponse,
    Fault.WRONG_CONTENT_TYPE: errors.BadResponse,
}


@pytest.mark.parametrize("fault", TRANSIENT)
async def test_never_recovering_ends_in_a_typed_error_after_every_attempt(
    pds: tuple[str, FakePds], fault: Fault
) -> None:
    url, fake = pds
    retry = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, max_429_wait=0.05)
    config = FaultConfig(never_recover=True, kinds=(fault,), retry_after_s=30, reset_in_s=30)
    async with FaultProxy(url, config) as proxy, stack(proxy.url, retry) as (client, _):
        with pytest.raises(errors.UpstreamError) as info:
            await client.list_records(proxy.url, fake.did, COLLECTION)
        stats = proxy.stats()
    assert type(info.value) is EXPECTED[fault]
    assert info.value.retryable
    assert info.value.code  # stable, storable
    assert stats.calls == retry.attempts  # bounded: one request per attempt, then it stops
    assert stats.faults == {fault: retry.attempts}


async def test_never_recovering_trips_the_breaker_then_fails_fast_without_requests(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    retry = RetryPolicy(base_delay=0.001, max_delay=0.01, max_429_wait=0.05)  # production attempts and breaker
    config = FaultConfig(never_recover=True, seed=3, kinds=tuple(f for f in TRANSIENT if f is not Fault.STALL))
    async with FaultProxy(url, config) as proxy, stack(proxy.url, retry, HostLimits()) as (client, hosts):
        first = None
        for _ in range(10):  # 429s do not count against the breaker: keep calling until it opens
            try:
                await client.list_records(proxy.url, fake.did, COLLECTION)
            except errors.HostUnhealthy:
                break
            except errors.UpstreamError as exc:
                first = first or exc
        else:
            pytest.fail("the breaker never opened")
        calls = proxy.stats().calls
        with pytest.raises(errors.HostUnhealthy):
            await client.list_repos(proxy.url)
        assert proxy.stats().calls == calls  # refused without a request
        assert not hosts.is_healthy(host_key(proxy.url))
    assert first is not None
    assert calls <= 10 * retry.attempts


async def test_recovery_after_an_outage(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    retry = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
    async with (
        FaultProxy(url, FaultConfig(never_recover=True, kinds=(Fault.HTTP_503,))) as proxy,
        stack(proxy.url, retry, HostLimits(failures_to_trip=100)) as (client, _),
    ):
        with pytest.raises(errors.ServerError):
            await client.list_records(proxy.url, fake.did, COLLECTION)
        proxy.configure(never_recover=False, rate=0.0)
        assert await all_records(client, proxy.url, fake.did, COLLECTION) == fake.records[COLLECTION]


# -- 429: the wait the server asked for is the wait the client takes ---------------------------------------------

MARGIN = 0.05  # clock granularity between the proxy's time.time() and the client's sleep, never a speed bound


@pytest.mark.parametrize("fault", [Fault.RATELIMIT_RESET, Fault.RETRY_AFTER])
async def test_429_waits_are_honoured_by_every_caller_of_the_host(pds: tuple[str, FakePds], fault: Fault) -> None:
    url, fake = pds
    retry = RetryPolicy(base_delay=0.001, max_delay=0.01)  # production 429 handling: up to 120 s as announced
    config = FaultConfig(rate=0.0, plan=(fault,), retry_after_s=1, reset_in_s=1)
    # one slot for the host: the callers queue, and whoever runs after the 429 must respect its cooldown
    async with FaultProxy(url, config) as proxy, stack(proxy.url, retry, HostLimits(concurrency=1)) as (client, _):
        pages = await asyncio.gather(*(client.list_records(proxy.url, fake.did, COLLECTION) for _ in range(4)))
        stats = proxy.stats()
    assert all(len(p.records) == 100 for p in pages)
    limited, *after = stats.requests
    assert limited.fault is fault
    assert limited.retry_at is not None
    assert len(after) == 4
    assert all(s.fault is None for s in after)
    assert min(s.at for s in after) >= limited.retry_at - MARGIN


async def test_429_waits_are_capped_by_policy(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    retry = RetryPolicy(base_delay=0.001, max_delay=0.01, max_429_wait=0.2)
    config = FaultConfig(rate=0.0, plan=(Fault.RETRY_AFTER,), retry_after_s=3600)
    async with FaultProxy(url, config) as proxy, stack(proxy.url, retry) as (client, _):
        await client.list_records(proxy.url, fake.did, COLLECTION)
        limited, retried = proxy.stats().requests
    assert limited.retry_at is not None
    assert retried.at < limited.retry_at  # did not sit out an hour: the cap applied
    assert retried.at >= limited.at + 0.2 - MARGIN


# -- a 50 MB answer: a typed error at the cap, never held whole --------------------------------------------------


async def test_a_50_mb_json_answer_hits_the_cap_without_being_held(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    retry = RetryPolicy(base_delay=0.001, max_delay=0.01)  # production cap: 16 MB for JSON
    config = FaultConfig(never_recover=True, kinds=(Fault.HUGE_BODY,))
    async with FaultProxy(url, config) as proxy, stack(proxy.url, retry) as (client, _):
        tracemalloc.start()
        try:
            with pytest.raises(errors.TooLarge) as info:
                await client.list_records(proxy.url, fake.did, COLLECTION)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await _abandoned(proxy)
        stats = proxy.stats()
    assert not info.value.retryable
    assert info.value.code == "upstream_too_large"
    assert stats.calls == 1  # not retried: a bigger answer will not shrink
    assert stats.huge_bodies_abandoned == 1
    assert stats.huge_bytes_sent < 50 * MB  # the client hung up at the cap
    assert retry.max_json_bytes < 50 * MB
    assert peak < retry.max_json_bytes + 8 * MB  # at most the cap was buffered, never the whole answer


async def test_a_50_mb_declared_answer_is_refused_before_its_body(pds: tuple[str, FakePds]) -> None:
    url, _ = pds
    config = FaultConfig(never_recover=True, kinds=(Fault.HUGE_BODY_DECLARED,))
    async with FaultProxy(url, config) as proxy, stack(proxy.url) as (client, _):
        with pytest.raises(errors.TooLarge, match="52428800"):
            await client.list_repos(proxy.url)
        await _abandoned(proxy)
        stats = proxy.stats()
    assert stats.calls == 1
    assert stats.huge_bytes_sent < 16 * MB  # what the socket buffers took before the client hung up


async def test_a_50_mb_export_hits_the_file_cap(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    config = FaultConfig(never_recover=True, kinds=(Fault.HUGE_BODY,))
    async with FaultProxy(url, config) as proxy, stack(proxy.url) as (client, _):
        with pytest.raises(errors.TooLarge):  # a blob: no first bytes to refuse it by (an export's are checked)
            await client.get_blob(proxy.url, fake.did, cid_of({"blob": 1}), max_bytes=4 * MB)
        await _abandoned(proxy)
        stats = proxy.stats()
    assert stats.calls == 1
    assert stats.huge_bytes_sent < 50 * MB


async def test_huge_bodies_mixed_in_end_a_listing_with_a_typed_error(pds: tuple[str, FakePds]) -> None:
    url, fake = pds
    config = FaultConfig(rate=0.3, seed=4, kinds=ALL_FAULTS, huge_bytes=20 * MB)
    async with FaultProxy(url, config) as proxy, stack(proxy.url) as (client, _):
        with pytest.raises(errors.TooLarge):
            await all_records(client, proxy.url, fake.did, COLLECTION)
        stats = proxy.stats()
    assert stats.faults[Fault.HUGE_BODY] + stats.faults[Fault.HUGE_BODY_DECLARED] == 1


async def _abandoned(proxy: FaultProxy) -> None:
    """Wait until the proxy has seen the client hang up on its huge body (its write fails a moment later)."""
    for _ in range(500):
        if proxy.stats().huge_bodies_abandoned:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client never hung up on the huge body")
