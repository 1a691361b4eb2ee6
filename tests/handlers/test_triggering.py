"""Queueing operations through the trigger methods: idempotent, and bounded by ``--max-queued-ops``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import AppFactory, running_client
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems

from chive_admin._generated import ids
from chive_admin.backfill.job_types import JobRegistry

TRIGGER = f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}"


@pytest.fixture
async def api(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    # no workers: whatever is triggered stays queued
    config = engine_config(workers=0, max_queued=3)
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=config)
    async for client in running_client(app):
        yield client


async def trigger(api: httpx.AsyncClient, batch_size: int) -> httpx.Response:
    return await api.post(TRIGGER, json={"type": "testCount", "batchSize": batch_size}, headers=ADMIN)


async def test_past_the_bound_a_new_operation_is_refused_with_503(api: httpx.AsyncClient) -> None:
    made = [await trigger(api, size) for size in (1, 2, 3)]
    assert [r.status_code for r in made] == [200, 200, 200]
    refused = await trigger(api, 4)
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["error"] == "NotEnoughResources"
    assert "3 operations are queued" in body["message"]
    assert "--max-queued-ops" in body["message"]
    assert refused.headers["Retry-After"].isdigit()
    # the twin of a queued op is still answered with that op
    twin = await trigger(api, 2)
    assert twin.status_code == 200
    assert twin.json()["operation"]["id"] == made[1].json()["operation"]["id"]
    # a cancelled op leaves the queue and makes room
    cancel = f"/xrpc/{ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}"
    await api.post(cancel, json={"id": made[0].json()["operation"]["id"]}, headers=ADMIN)
    assert (await trigger(api, 4)).status_code == 200
