"""Starting an operation from any trigger method: a type this server cannot run is 501, params are the type's own
(validated by lexicon name), the type's checks run before anything is queued, and the audit trail notes the
operation and whether it was created or reused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import AppFactory, running_client
from support.admin_api import Api, refusal, serving
from support.auth import ADMIN, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import trigger_backfill
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.handlers.shared.triggering import present_fields
from chive_admin.store import operations as ops
from chive_admin.store.audit import AuditEntry

TRIGGER = ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL


async def stored(api: Api) -> list[ops.Operation]:
    async with api.services.db.read() as conn:
        return await ops.list_active(conn, 10)


async def test_a_type_without_a_job_here_is_501_and_queues_nothing(make_app: AppFactory) -> None:
    # the state of a server where the job of a lexicon type has not landed
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=engine_config(workers=0))
    async with serving(app) as api:
        direct = await api.post(ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX, {"batchSize": 10})
        generic = await api.post(TRIGGER, {"type": "fullReindex", "batchSize": 10})
        assert await stored(api) == []
    for response in (direct, generic):
        assert refusal(response, 501, "MethodNotImplemented") == "full-reindex operations are not implemented yet"


async def test_params_are_checked_as_the_types_own(api: Api) -> None:
    message = refusal(await api.post(TRIGGER, {"type": "testCount", "batchSize": 0}), 400, "InvalidRequest")
    assert message.startswith("Invalid test-count parameters: batchSize: ")
    assert await stored(api) == []


async def test_the_audit_trail_notes_the_operation_and_its_reuse(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    entries: list[AuditEntry] = []
    monkeypatch.setattr(api.services.audit, "record", entries.append)
    first = (await api.post(TRIGGER, {"type": "testCount"})).json()["operation"]["id"]
    await api.post(TRIGGER, {"type": "testCount"})
    assert [(e.target, e.detail) for e in entries] == [(first, "created"), (first, "reused")]


def test_present_fields_are_the_given_ones_by_lexicon_name() -> None:
    given = trigger_backfill.Input(type="fullReindex", batch_size=10)
    assert present_fields(given) == {"type": "fullReindex", "batchSize": 10}
    assert present_fields(given, exclude={"type"}) == {"batchSize": 10}
    assert present_fields(trigger_backfill.Input(type="governanceSync"), exclude={"type"}) == {}


TRIGGER_PATH = f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}"


@pytest.fixture
async def bounded(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    # no workers: whatever is triggered stays queued
    config = engine_config(workers=0, max_queued=3)
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=config)
    async with running_client(app) as client:
        yield client


async def trigger_sized(bounded: httpx.AsyncClient, batch_size: int) -> httpx.Response:
    return await bounded.post(TRIGGER_PATH, json={"type": "testCount", "batchSize": batch_size}, headers=ADMIN)


async def test_past_the_bound_a_new_operation_is_refused_with_503(bounded: httpx.AsyncClient) -> None:
    made = [await trigger_sized(bounded, size) for size in (1, 2, 3)]
    assert [r.status_code for r in made] == [200, 200, 200]
    refused = await trigger_sized(bounded, 4)
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["error"] == "NotEnoughResources"
    assert "3 operations are queued" in body["message"]
    assert "--max-queued-ops" in body["message"]
    assert refused.headers["Retry-After"].isdigit()
    # the twin of a queued op is still answered with that op
    twin = await trigger_sized(bounded, 2)
    assert twin.status_code == 200
    assert twin.json()["operation"]["id"] == made[1].json()["operation"]["id"]
    # a cancelled op leaves the queue and makes room
    cancel = f"/xrpc/{ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL}"
    await bounded.post(cancel, json={"id": made[0].json()["operation"]["id"]}, headers=ADMIN)
    assert (await trigger_sized(bounded, 4)).status_code == 200
