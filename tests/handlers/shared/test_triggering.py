"""Starting an operation from any trigger method: a type this server cannot run is 501, params are the type's own
(validated by lexicon name), the type's checks run before anything is queued, and the audit trail notes the
operation and whether it was created or reused."""

from __future__ import annotations

import pytest
from conftest import AppFactory
from support.admin_api import Api, refusal, serving
from support.auth import FixedTokens
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
    async for api in serving(app):
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
