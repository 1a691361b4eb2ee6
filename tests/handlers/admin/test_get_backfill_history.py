"""getBackfillHistory: ended operations, the most recently ended first, bounded; active ones are not history."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_backfill_history
from chive_admin.handlers.admin.get_backfill_history import HISTORY_LIMIT

METHOD = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY


async def test_ended_ops_most_recent_first(api: Api) -> None:
    assert answer(await api.get(METHOD), get_backfill_history.Output).operations == []
    ended = [await api.stored_op("test-count", {"n": s}, status=s) for s in ("completed", "failed", "partial")]
    await api.stored_op("test-count", {"n": "active"}, status="running")
    output = answer(await api.get(METHOD), get_backfill_history.Output)
    assert [op.id for op in output.operations] == [op.id for op in reversed(ended)]
    assert all(op.completed_at is not None for op in output.operations)


async def test_the_answer_is_bounded(api: Api) -> None:
    for n in range(HISTORY_LIMIT + 1):
        await api.stored_op("test-count", {"n": n}, status="completed")
    assert len(answer(await api.get(METHOD), get_backfill_history.Output).operations) == HISTORY_LIMIT


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")
