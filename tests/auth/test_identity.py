"""Resolving identities against a real PLC-like server on loopback (a scripted one, so it can be slow or fail on
cue): the cache is bounded, strangers' resolutions come out of a small budget and are shed past it, and neither a
shed nor an unreachable host is remembered against a DID."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from starlette.requests import Request
from support.clock import ManualClock
from support.scripted import Answer, Script, scripted_server

from chive_admin.auth.budget import ResolutionBudget
from chive_admin.auth.identity import IdentityError, IdentityResolver, ResolutionRateLimited, ResolutionShed
from chive_admin.upstream.did_docs import DidDocFetcher
from chive_admin.upstream.guard import upstream_http


def did(n: int) -> str:
    return f"did:plc:{n:024d}"


def document(request: Request) -> Answer:
    return Answer(200, json.dumps({"id": request.url.path.lstrip("/")}).encode())


@pytest.fixture
def plc() -> Iterator[tuple[str, Script]]:
    with scripted_server() as (url, script):
        script.default = document
        yield url, script


@pytest.fixture
async def fetcher(plc: tuple[str, Script]) -> AsyncIterator[DidDocFetcher]:
    async with upstream_http(allow_private=True) as http:
        yield DidDocFetcher(http, plc[0], allow_private=True)


async def test_the_cache_keeps_at_most_max_entries(fetcher: DidDocFetcher) -> None:
    resolver = IdentityResolver(fetcher, max_entries=20)
    for n in range(120):
        await resolver.resolve(did(n))
        assert len(resolver._cache) <= 20
        assert len(resolver._recent) <= 20
    assert resolver.fetches == 120
    await resolver.resolve(did(119))  # the most recent are still there
    assert resolver.fetches == 120


async def test_unvouched_resolutions_have_a_global_rate(fetcher: DidDocFetcher, plc: tuple[str, Script]) -> None:
    resolver = IdentityResolver(fetcher, budget=ResolutionBudget(concurrency=100, rate=0.001, burst=5))
    for n in range(5):
        assert (await resolver.resolve(did(n), vouched=False)).did == did(n)
    for n in range(5, 30):
        with pytest.raises(ResolutionShed) as shed:
            await resolver.resolve(did(n), vouched=False)
        assert shed.value.retry_after >= 1
    assert len(plc[1].seen) == 5  # the directory saw the burst, not the flood
    # a DID someone vouches for is resolved whatever the strangers spent
    assert (await resolver.resolve(did(99))).did == did(99)
    # and an unvouched issuer already known costs nothing
    assert (await resolver.resolve(did(0), vouched=False)).did == did(0)


async def test_unvouched_resolutions_in_flight_are_few_and_a_shed_is_not_remembered(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    script = plc[1]

    def answer(request: Request) -> Answer:
        if request.url.path.startswith("/did:plc:slow"):
            return Answer(200, json.dumps({"id": request.url.path[1:]}).encode(), delay=1.0)
        return document(request)

    script.default = answer
    resolver = IdentityResolver(fetcher, budget=ResolutionBudget(concurrency=2, rate=100, burst=100))
    slow_ones = [asyncio.create_task(resolver.resolve(f"did:plc:slow{n:020d}", vouched=False)) for n in range(2)]
    while script.in_flight < 2:
        await asyncio.sleep(0.01)
    with pytest.raises(ResolutionShed):
        await resolver.resolve(did(7), vouched=False)
    assert (await resolver.resolve(did(8))).did == did(8)  # vouched: not behind the strangers
    await asyncio.gather(*slow_ones)
    assert (await resolver.resolve(did(7), vouched=False)).did == did(7)  # not cached as a failure


async def test_an_unreachable_host_does_not_replace_a_known_identity(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    resolver = IdentityResolver(fetcher, min_refresh_interval=0)
    known = await resolver.resolve(did(1))
    plc[1].default = Answer(503, b"{}")
    with pytest.raises(IdentityError) as refresh:
        await resolver.resolve(did(1), fresh=True)
    assert refresh.value.code == "unreachable"
    assert await resolver.resolve(did(1)) == known
    # a DID never resolved is remembered as failing, briefly
    with pytest.raises(IdentityError):
        await resolver.resolve(did(2))
    seen = len(plc[1].seen)
    with pytest.raises(IdentityError):
        await resolver.resolve(did(2))
    assert len(plc[1].seen) == seen


async def test_an_identity_in_use_is_refreshed_ahead_and_an_outage_does_not_drop_it(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    script = plc[1]
    clock = ManualClock(100.0)
    resolver = IdentityResolver(fetcher, ttl=600, clock=clock)
    known = await resolver.resolve(did(1))
    clock.now += 301  # past half its lifetime: answered from the cache, refreshed behind
    assert await resolver.resolve(did(1)) == known
    await until(lambda: len(script.seen) == 2)
    script.default = Answer(503, b"{}")  # the directory goes down
    clock.now += 301
    assert await resolver.resolve(did(1)) == known
    await until(lambda: len(script.seen) == 3 and not resolver._refreshing)
    assert await resolver.resolve(did(1)) == known  # the failed refresh left it standing
    # strangers' issuers are not refreshed ahead: nobody vouches for them
    script.default = document
    await resolver.resolve(did(2), vouched=False)
    clock.now += 301
    seen = len(script.seen)
    with contextlib.suppress(IdentityError):
        await resolver.resolve(did(2), vouched=False)
    await asyncio.sleep(0.1)
    # only did(1)'s own late retry may still arrive here (a loaded machine delays it); did(2) is not looked up again
    assert [path for path in script.seen[seen:] if did(2) in path] == []
    await resolver.close()


async def until(condition: Callable[[], bool], limit: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_forced_refresh_is_rate_limited_but_a_current_one_is_not(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    """A bad token's refresh (``fresh``) is honoured once per interval; a did-sync's (``current``) every time: it
    must see a handle changed a moment ago."""
    resolver = IdentityResolver(fetcher, min_refresh_interval=600)
    await resolver.resolve(did(1))
    await resolver.resolve(did(1), fresh=True)
    assert resolver.fetches == 1
    await resolver.resolve(did(1), current=True)
    await resolver.resolve(did(1), current=True)
    assert resolver.fetches == 3


async def test_a_rate_limited_resolution_says_how_long_and_is_not_remembered(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    _, script = plc
    script.push(Answer(429, b'{"message": "slow down"}', {"content-type": "application/json", "retry-after": "3"}))
    resolver = IdentityResolver(fetcher)
    with pytest.raises(ResolutionRateLimited) as limited:
        await resolver.resolve(did(1))
    assert (limited.value.code, limited.value.retry_after) == ("rate_limited", 3)
    # nothing was learnt of the DID: the next resolution asks again, and succeeds
    assert (await resolver.resolve(did(1))).did == did(1)
    assert resolver.fetches == 2


async def test_a_remembered_failure_keeps_its_words_not_the_failed_fetch(
    fetcher: DidDocFetcher, plc: tuple[str, Script]
) -> None:
    """A cached failure held as the exception raised for it kept that exception's traceback and, through its
    suppressed context, the failed fetch's frames: ten thousand of them (a network backfill's stale DIDs, or
    strangers' tokens) held ~150 MB. Each hit raises a fresh error from the remembered words."""
    _, script = plc
    script.default = Answer(404, b'{"message": "DID not registered"}')
    resolver = IdentityResolver(fetcher)
    with pytest.raises(IdentityError) as first:
        await resolver.resolve(did(7))
    with pytest.raises(IdentityError) as again:
        await resolver.resolve(did(7))
    assert resolver.fetches == 1
    assert again.value is not first.value
    assert (again.value.code, str(again.value)) == (first.value.code, str(first.value))
    assert again.value.__context__ is None
