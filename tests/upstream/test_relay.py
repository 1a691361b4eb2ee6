"""The relay client against a loopback relay (tests/support/relay.py): pages followed to the end, and every way a
relay can misbehave ending in a typed error at once, never a hang."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from support.relay import LoopbackRelay, loopback_relay

from chive_admin.upstream import errors
from chive_admin.upstream.atproto import CursorLoop, InvalidAnswer
from chive_admin.upstream.calls import RetryPolicy
from chive_admin.upstream.guard import UnsafeUpstream, upstream_http
from chive_admin.upstream.hosts import HostPolicy
from chive_admin.upstream.relay import MAX_PAGE_BYTES, RelayClient, relay_policy
from testnet import records

DIDS = [f"did:plc:relay{n:021d}" for n in range(5)]


@pytest.fixture
def relay() -> Iterator[LoopbackRelay]:
    with loopback_relay({records.COMMENT: DIDS}) as running:
        yield running


def client_for(http: httpx.AsyncClient, url: str, policy: RetryPolicy | None = None) -> RelayClient:
    return RelayClient(url, http, HostPolicy(), policy or relay_policy(attempts=2, deadline=5))


@pytest.fixture
async def client(relay: LoopbackRelay) -> AsyncIterator[RelayClient]:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0)) as http:
        yield client_for(http, relay.url)


async def listed(client: RelayClient, cursor: str | None = None, limit: int = 2) -> list[str]:
    return [repo.did async for page in client.pages(records.COMMENT, cursor=cursor, limit=limit) for repo in page.repos]


async def test_pages_are_followed_while_they_carry_a_cursor(relay: LoopbackRelay, client: RelayClient) -> None:
    assert await listed(client) == DIDS
    assert relay.requests == [(records.COMMENT, None), (records.COMMENT, "2"), (records.COMMENT, "4")]
    # a last page that is full carries a cursor (collectiondir), and an empty page ends the listing
    relay.requests.clear()
    assert await listed(client, limit=5) == DIDS
    assert relay.requests == [(records.COMMENT, None), (records.COMMENT, "5")]
    # from a cursor on, as a resumed discovery asks
    assert await listed(client, cursor="3") == DIDS[3:]


async def test_a_short_page_with_a_cursor_is_not_the_end(relay: LoopbackRelay, client: RelayClient) -> None:
    relay.max_page = 1
    assert await listed(client, limit=1000) == DIDS
    assert len(relay.requests) == 6  # a page per DID, then the empty one without a cursor


@pytest.mark.parametrize("loop", ["0", "again"])
async def test_a_cursor_that_comes_back_is_a_loop(relay: LoopbackRelay, client: RelayClient, loop: str) -> None:
    relay.loop_cursor = loop
    with pytest.raises(CursorLoop, match="cursor repeated"):
        await listed(client)
    assert len(relay.requests) == 2


@pytest.mark.parametrize(
    "body",
    [b"<html>", b'{"repos": [{"did": "nope"}]}', b'{"cursor": "1"}', b'{"repos": [{"did": 7}]}', b"[]"],
)
async def test_what_is_not_a_page_is_refused(relay: LoopbackRelay, client: RelayClient, body: bytes) -> None:
    relay.garbage.extend([body] * 2)
    with pytest.raises(errors.BadResponse):
        await listed(client)


async def test_an_answer_of_the_lexicon_but_wrong_is_not_retried(relay: LoopbackRelay, client: RelayClient) -> None:
    relay.garbage.extend([b'{"repos": [{"did": "nope"}]}'] * 2)
    with pytest.raises(InvalidAnswer):
        await listed(client)
    assert len(relay.requests) == 1


async def test_a_page_over_the_size_cap_is_refused(relay: LoopbackRelay, client: RelayClient) -> None:
    relay.garbage.extend([b'{"repos": [' + b'{"did": "did:plc:x"},' * (MAX_PAGE_BYTES // 10) + b"]}"] * 2)
    with pytest.raises(errors.TooLarge):
        await listed(client)


async def test_a_far_rate_limit_is_raised_at_once_and_a_near_one_waited_out(
    relay: LoopbackRelay, client: RelayClient
) -> None:
    relay.throttle.append(0.0)
    assert await listed(client) == DIDS
    assert relay.requests[:2] == [(records.COMMENT, None)] * 2
    relay.requests.clear()
    relay.throttle.extend([7200.0, 7200.0])
    with pytest.raises(errors.RateLimited) as limited:
        await listed(client)
    assert limited.value.asked_s > 7000
    assert len(relay.requests) == 1


async def test_a_relay_on_a_private_address_is_refused_by_the_guard(relay: LoopbackRelay) -> None:
    async with upstream_http(allow_private=False, timeout=httpx.Timeout(2.0)) as http:
        with pytest.raises(UnsafeUpstream):
            await listed(client_for(http, relay.url))
    assert relay.requests == []
