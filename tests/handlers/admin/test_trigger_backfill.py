"""triggerBackfill: start any operation type by its camelCase name; the same type and params while one is active
answer that operation; a name nobody knows is InvalidBackfillType, params of another type InvalidRequest."""

from __future__ import annotations

from typing import Any

import pytest
from support.admin_api import Api, answer, refusal
from support.auth import ADMIN_DID

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import trigger_backfill
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL


async def stored(api: Api) -> list[ops.Operation]:
    async with api.services.db.read() as conn:
        return await ops.list_active(conn, 100)


async def test_an_operation_is_queued_and_shown(api: Api) -> None:
    output = answer(await api.post(METHOD, {"type": "testCount", "batchSize": 3}), trigger_backfill.Output)
    op = output.operation
    assert (op.type, op.status, op.records_processed, op.started_by) == ("test-count", "queued", 0, ADMIN_DID)
    assert op.params == {"batchSize": 3}
    [row] = await stored(api)
    assert row.id == op.id


async def test_the_same_request_while_it_is_active_answers_the_same_operation(api: Api) -> None:
    first = (await api.post(METHOD, {"type": "testCount", "batchSize": 3})).json()["operation"]
    again = (await api.post(METHOD, {"type": "testCount", "batchSize": 3})).json()["operation"]
    other = (await api.post(METHOD, {"type": "testCount", "batchSize": 4})).json()["operation"]
    assert again["id"] == first["id"]
    assert other["id"] != first["id"]
    assert len(await stored(api)) == 2


@pytest.mark.parametrize(
    ("body", "op_type", "params"),
    [
        ({"type": "pdsScan", "pdsUrl": "http://127.0.0.1:1"}, "pds-scan", {"pdsUrl": "http://127.0.0.1:1"}),
        (
            {"type": "didSync", "did": "did:plc:abcdefghijklmnopqrstuvwx"},
            "did-sync",
            {"did": "did:plc:abcdefghijklmnopqrstuvwx"},
        ),
        ({"type": "freshnessScan"}, "freshness-scan", {"tier": "all"}),
        ({"type": "fullReindex", "batchSize": 50}, "full-reindex", {"batchSize": 50}),
        ({"type": "citationExtraction"}, "citation-extraction", {}),
    ],
)
async def test_each_lexicon_name_starts_its_type(
    api: Api, body: dict[str, Any], op_type: str, params: dict[str, Any]
) -> None:
    op = answer(await api.post(METHOD, body), trigger_backfill.Output).operation
    assert (op.type, op.params) == (op_type, params)


@pytest.mark.parametrize("name", ["everything", "pds-scan", "PdsScan", ""])
async def test_a_name_nobody_knows_is_an_invalid_backfill_type(api: Api, name: str) -> None:
    message = refusal(await api.post(METHOD, {"type": name}), 400, "InvalidBackfillType")
    assert "pdsScan" in message
    assert "testCount" in message  # a plugin's name is listed too
    assert await stored(api) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "testCount", "did": "did:plc:abcdefghijklmnopqrstuvwx"},
            "Invalid test-count parameters: did: unknown field",
        ),
        ({"type": "didSync"}, "Invalid did-sync parameters: did: required"),
    ],
)
async def test_params_of_another_type_are_refused(api: Api, body: dict[str, Any], message: str) -> None:
    assert refusal(await api.post(METHOD, body), 400, "InvalidRequest") == message
    assert await stored(api) == []
