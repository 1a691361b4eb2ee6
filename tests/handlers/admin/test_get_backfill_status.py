"""getBackfillStatus: one op by id, the ops in one state, or every active op; an unknown id or state is refused."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_backfill_status
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS
DID = "did:plc:abcdefghijklmnopqrstuvwx"


async def listed(api: Api, **params: str) -> list[str]:
    output = answer(await api.get(METHOD, params), get_backfill_status.Output)
    assert output.operation is None
    return [op.id for op in output.operations or []]


async def test_every_active_op_by_default_and_the_ops_of_one_state_on_request(api: Api) -> None:
    # the queued op last: making any other one claims the oldest queued op of its type
    made = {s: await api.stored_op("test-count", {"n": s}, status=s) for s in sorted(ops.STATUSES, key="queued".__eq__)}
    active = await listed(api)
    assert sorted(active) == sorted(made[s].id for s in ops.ACTIVE)
    for status, op in made.items():
        assert await listed(api, status=status) == [op.id]


async def test_one_op_by_id_with_its_progress(api: Api) -> None:
    op = await api.stored_op("did-sync", {"did": DID}, status="running")
    output = answer(await api.get(METHOD, {"id": op.id}), get_backfill_status.Output)
    assert output.operation is not None
    assert (output.operation.id, output.operation.type, output.operation.status) == (op.id, "did-sync", "running")
    assert output.operation.params == {"did": DID}
    assert output.operation.attempts == 1
    assert output.operations is None
    assert (await api.get(METHOD, {"id": op.id, "status": "running"})).status_code == 200


async def test_an_unknown_id_or_state_is_refused(api: Api) -> None:
    op = await api.stored_op("test-count", status="completed")
    assert refusal(await api.get(METHOD, {"id": "nope"}), 400, "InvalidRequest") == "No operation has id 'nope'"
    mismatch = refusal(await api.get(METHOD, {"id": op.id, "status": "running"}), 400, "InvalidRequest")
    assert mismatch == f"No operation has id '{op.id}' and status running"
    wrong = refusal(await api.get(METHOD, {"status": "sleeping"}), 400, "InvalidRequest")
    assert wrong.startswith("Unknown status 'sleeping'; expected one of queued, running")
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
