"""The one in-process cache: a lifetime per entry and a size bound, least recently used out first."""

from __future__ import annotations

import pytest
from support.clock import ManualClock

from chive_admin.ttl_cache import TtlCache


def test_an_entry_lives_its_ttl_and_no_longer() -> None:
    clock = ManualClock()
    cache: TtlCache[str, int] = TtlCache(10, 5.0, clock=clock)
    cache.put("a", 1)
    clock.now += 4.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None
    assert len(cache) == 0  # dropped when looked at


def test_an_entry_may_have_its_own_ttl() -> None:
    clock = ManualClock()
    cache: TtlCache[str, int] = TtlCache(10, 600.0, clock=clock)
    cache.put("failure", 0, ttl=30.0)
    clock.now += 31
    assert cache.get("failure") is None


def test_past_the_bound_the_least_recently_used_goes_first() -> None:
    cache: TtlCache[int, int] = TtlCache(3, 60.0)
    for n in range(3):
        cache.put(n, n)
    assert cache.get(0) == 0  # 0 is now the most recently used; 1 the least
    cache.put(3, 3)
    assert cache.get(1) is None
    assert [cache.get(n) for n in (0, 2, 3)] == [0, 2, 3]
    assert len(cache) == 3


def test_many_distinct_keys_never_grow_it_past_the_bound() -> None:
    cache: TtlCache[str, bytes] = TtlCache(100, 600.0)
    for n in range(10_000):
        cache.put(f"did:plc:{n:024d}", b"x" * 10)
        assert len(cache) <= 100
    assert cache.get(f"did:plc:{9_999:024d}") == b"x" * 10


def test_pop_and_clear() -> None:
    cache: TtlCache[str, int] = TtlCache(10, 60.0)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.pop("a")
    cache.pop("missing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert len(cache) == 0


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TtlCache(0, 1.0)
