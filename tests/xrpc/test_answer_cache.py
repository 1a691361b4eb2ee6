"""Kept listings: reused while nothing changed and while fresh; a change (even one during a load) drops them."""

from __future__ import annotations

import asyncio

from conftest import AppFactory, running_client
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems

from chive_admin._generated import ids
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.xrpc.answer_cache import AnswerCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_reused_until_a_change() -> None:
    cache, load = AnswerCache(max_age=60), Loader()
    assert [await cache.get("active", load) for _ in range(3)] == [1, 1, 1]
    assert await cache.get("running", load) == 2  # another key, its own answer
    cache.changed()
    assert await cache.get("active", load) == 3


async def test_never_older_than_max_age() -> None:
    cache, load = AnswerCache(max_age=0), Loader()
    await cache.get("active", load)
    await asyncio.sleep(0.01)
    assert await cache.get("active", load) == 2


async def test_a_change_during_the_load_keeps_nothing() -> None:
    cache = AnswerCache(max_age=60)

    async def racing() -> str:
        cache.changed()  # an op changed state while this answer was being read
        return "maybe stale"

    assert await cache.get("active", racing) == "maybe stale"
    assert await cache.get("active", Loader()) == 1


async def test_a_new_or_cancelled_op_shows_at_once(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=engine_config(workers=0))
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    async with running_client(app) as client:
        assert (await client.get(status, headers=ADMIN)).json()["operations"] == []
        made = await client.post(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}", json={"type": "testCount"}, headers=ADMIN
        )
        op_id = made.json()["operation"]["id"]
        listed = (await client.get(status, headers=ADMIN)).json()["operations"]
        assert [op["id"] for op in listed] == [op_id]
        await client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}", json={"id": op_id}, headers=ADMIN)
        assert (await client.get(status, headers=ADMIN)).json()["operations"] == []
        cancelled = (await client.get(status, params={"status": "cancelled"}, headers=ADMIN)).json()["operations"]
        assert [op["id"] for op in cancelled] == [op_id]


async def test_kept_answers_are_bounded() -> None:
    cache = AnswerCache(max_age=60)
    for n in range(AnswerCache.MAX_ENTRIES * 3):
        await cache.get(("op", n), Loader())
    assert len(cache._entries) <= AnswerCache.MAX_ENTRIES
