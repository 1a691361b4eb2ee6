"""The jti replay set: each token used once, and bounded in all and per issuer without ever forgetting a live jti."""

from __future__ import annotations

import pytest
from support.clock import ManualClock

from chive_admin.auth.replay import ReplayCache, ReplayFull, SharedReplayCache
from chive_admin.store.db import Database


async def test_a_jti_is_used_once_until_it_expires() -> None:
    clock = ManualClock()
    replay = ReplayCache(clock=clock)
    assert await replay.first_use("did:a", "j1", clock.now + 60)
    assert not await replay.first_use("did:a", "j1", clock.now + 60)
    assert await replay.first_use("did:b", "j1", clock.now + 60)  # per issuer
    clock.now += 61
    assert len(replay) == 2  # expired entries go at the next call
    assert await replay.first_use("did:c", "j2", clock.now + 60)
    assert len(replay) == 1


async def test_past_the_per_issuer_share_new_tokens_are_refused_not_old_jtis_forgotten() -> None:
    clock = ManualClock()
    replay = ReplayCache(max_entries=100, max_per_issuer=3, clock=clock)
    for n in range(3):
        assert await replay.first_use("did:a", f"j{n}", clock.now + 60 + n)
    with pytest.raises(ReplayFull) as full:
        await replay.first_use("did:a", "j3", clock.now + 60)
    assert full.value.per_issuer
    assert full.value.limit == 3
    assert full.value.retry_after == pytest.approx(60)
    for n in range(3):  # every live jti is still refused as a replay
        assert not await replay.first_use("did:a", f"j{n}", clock.now + 60)
    assert await replay.first_use("did:b", "j0", clock.now + 60)  # other issuers are not held back
    clock.now += 60
    assert await replay.first_use("did:a", "j3", clock.now + 60)  # room again once the first expired


async def test_past_the_total_bound_new_tokens_are_refused() -> None:
    clock = ManualClock()
    replay = ReplayCache(max_entries=5, max_per_issuer=5, clock=clock)
    for n in range(5):
        assert await replay.first_use(f"did:{n}", "j", clock.now + 30 + n)
    with pytest.raises(ReplayFull) as full:
        await replay.first_use("did:new", "j", clock.now + 60)
    assert not full.value.per_issuer
    assert full.value.retry_after == pytest.approx(30)
    assert len(replay) == 5
    clock.now += 30
    assert await replay.first_use("did:new", "j", clock.now + 60)


@pytest.mark.both_backends
async def test_the_shared_set_refuses_on_one_process_a_token_used_on_another(db: Database) -> None:
    clock = ManualClock()
    first, second = (SharedReplayCache(db, max_entries=10, max_per_issuer=2, clock=clock) for _ in range(2))
    assert await first.first_use("did:a", "j1", clock.now + 60)
    assert not await second.first_use("did:a", "j1", clock.now + 60)  # the other process saw it in the database
    assert await second.first_use("did:a", "j2", clock.now + 90)
    with pytest.raises(ReplayFull) as full:
        await first.first_use("did:a", "j3", clock.now + 60)
    assert full.value.per_issuer
    assert full.value.retry_after == pytest.approx(60)
    clock.now += 61
    assert await first.first_use("did:a", "j3", clock.now + 60)  # j1 expired: room again, and it is forgotten
