"""cancelBackfill: a queued op ends cancelled at once, a running one is asked to stop (cancelling); an unknown id
or an ended op is InvalidRequest, and the op is left as it was."""

from __future__ import annotations

import pytest
from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import cancel_backfill
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL


async def status_of(api: Api, op_id: str) -> str:
    async with api.services.db.read() as conn:
        op = await ops.get(conn, op_id)
    assert op is not None
    return op.status


@pytest.mark.parametrize(
    ("before", "after"), [("queued", "cancelled"), ("running", "cancelling"), ("cancelling", "cancelling")]
)
async def test_an_active_op_is_cancelled_or_asked_to_stop(api: Api, before: str, after: str) -> None:
    op = await api.stored_op("test-count", status=before)
    assert answer(await api.post(METHOD, {"id": op.id}), cancel_backfill.Output).success is True
    assert await status_of(api, op.id) == after


async def test_an_unknown_id_is_named(api: Api) -> None:
    message = refusal(await api.post(METHOD, {"id": "01NOSUCHOPERATION"}), 400, "InvalidRequest")
    assert message == "No operation has id '01NOSUCHOPERATION'"


@pytest.mark.parametrize("ended", ops.ENDED)
async def test_an_ended_op_stays_as_it_ended(api: Api, ended: str) -> None:
    op = await api.stored_op("test-count", status=ended)
    message = refusal(await api.post(METHOD, {"id": op.id}), 400, "InvalidRequest")
    assert message == f"Operation {op.id} is already {ended}"
    assert await status_of(api, op.id) == ended
