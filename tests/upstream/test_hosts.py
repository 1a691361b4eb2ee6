"""Per-host limits and health: a bounded number of requests at once, 429 cooldowns, and a breaker for a host that
keeps failing; all per host, so one bad host never slows another."""

from __future__ import annotations

import asyncio

import pytest

from chive_admin.upstream.errors import HostUnhealthy
from chive_admin.upstream.hosts import HostLimits, HostPolicy, host_key

A = "https://a.example"
B = "https://b.example"
#: longer than any test runs: a cooldown or an open breaker that must still hold when the test checks it
AN_HOUR = 3600.0


def test_a_host_is_its_scheme_and_authority() -> None:
    assert host_key("https://PDS.Example:443/xrpc/com.atproto.sync.listRepos?limit=1") == "https://pds.example:443"
    assert host_key("http://pds.example/") == "http://pds.example"
    assert host_key("https://pds.example") != host_key("http://pds.example")  # two origins, two sets of limits


async def test_at_most_the_concurrency_limit_is_in_flight_per_host() -> None:
    hosts = HostPolicy(HostLimits(concurrency=2))
    await hosts.acquire(A)
    await hosts.acquire(A)
    third = asyncio.create_task(hosts.acquire(A))
    other = asyncio.create_task(hosts.acquire(B))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not third.done()  # waits for a slot of its host
    assert other.done()  # another host's slots are its own
    hosts.release(A)
    await asyncio.wait_for(third, 5)  # a bound for the test, not a speed claim


async def test_a_cooldown_holds_back_that_host_only() -> None:
    hosts = HostPolicy()
    hosts.cooldown(A, AN_HOUR)
    hosts.cooldown(A, 0.0)  # a shorter wait asked later does not cut short the one the host asked for
    waiting = asyncio.create_task(hosts.acquire(A))
    await asyncio.wait_for(hosts.acquire(B), 5)  # other hosts go on (a bound for the test, not a speed claim)
    await asyncio.sleep(0.05)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_wait_cancelled_during_a_cooldown_gives_its_slot_back() -> None:
    hosts = HostPolicy(HostLimits(concurrency=1))
    hosts.cooldown(A, 0.2)
    waiting = asyncio.create_task(hosts.acquire(A))
    await asyncio.sleep(0)  # it holds the host's only slot and sleeps out the cooldown
    waiting.cancel()  # a cancelled operation must not keep that slot
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(hosts.acquire(A), 5)  # the slot is free again once the cooldown has passed


def test_the_breaker_opens_after_consecutive_failures_and_a_success_closes_it() -> None:
    hosts = HostPolicy(HostLimits(failures_to_trip=3, open_seconds=AN_HOUR))
    for _ in range(2):
        hosts.failed(A, "503")
        hosts.check_open(A)  # not yet: failures below the threshold cost nothing
    hosts.succeeded(A)  # the streak is consecutive failures only
    for _ in range(2):
        hosts.failed(A, "503")
    assert hosts.is_healthy(A)
    hosts.failed(A, "503")
    assert not hosts.is_healthy(A)
    assert hosts.is_healthy(B)
    with pytest.raises(HostUnhealthy) as refused:
        hosts.check_open(A)
    assert (refused.value.host, refused.value.code) == (A, "host_unhealthy")
    assert "failed 3 times in a row" in str(refused.value)
    hosts.check_open(B)
    hosts.succeeded(A)  # the probe after the open period went through
    assert hosts.is_healthy(A)
    hosts.check_open(A)


def test_an_open_breaker_lets_a_probe_through_once_its_time_is_up() -> None:
    hosts = HostPolicy(HostLimits(failures_to_trip=1, open_seconds=0.0))
    hosts.failed(A, "reset")
    assert hosts.is_healthy(A)  # open for no time: the next call is the probe
    hosts.check_open(A)
