"""retryDLQEntry: the entry at a queue position goes back through its job as a dlq-retry operation (the same one
while it is still waiting)."""

from __future__ import annotations

from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import retry_dlq_entry
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY


async def active(api: Api) -> list[ops.Operation]:
    async with api.services.db.read() as conn:
        return await ops.list_active(conn, 10)


async def test_the_entry_is_retried_by_one_operation(api: Api) -> None:
    await api.dead_letter(0)
    entry_id = await api.dead_letter(1)
    first = answer(await api.post(METHOD, {"index": 1}), retry_dlq_entry.Output)
    again = answer(await api.post(METHOD, {"index": 1}), retry_dlq_entry.Output)
    [op] = await active(api)
    assert (op.type, op.params, op.status, op.started_by) == (
        "dlq-retry",
        {"entryIds": [entry_id]},
        "queued",
        "did:plc:testadmin0000000000000000",
    )
    assert first.success is True
    assert first.message == again.message == f"Entry {entry_id} is being retried by operation {op.id}"


async def test_a_position_past_the_end_starts_nothing(api: Api) -> None:
    message = refusal(await api.post(METHOD, {"index": 0}), 400, "InvalidRequest")
    assert message == "No dead-letter entry at index 0 (the queue holds 0)"
    assert await active(api) == []
