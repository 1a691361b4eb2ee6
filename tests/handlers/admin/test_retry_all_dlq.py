"""retryAllDLQ: every entry (or every entry of one errorType) as of now, retried by one dlq-retry operation."""

from __future__ import annotations

from support.admin_api import Api, answer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import retry_all_dlq
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ


async def active(api: Api) -> list[ops.Operation]:
    async with api.services.db.read() as conn:
        return await ops.list_active(conn, 10)


async def test_every_entry_is_retried_by_one_operation(api: Api) -> None:
    chosen = [await api.dead_letter(n) for n in range(3)]
    assert answer(await api.post(METHOD, {}), retry_all_dlq.Output).retried_count == 3
    [op] = await active(api)
    assert (op.type, op.params) == ("dlq-retry", {"entryIds": chosen})  # fixed now: later entries are not in it


async def test_only_the_entries_of_one_error_type(api: Api) -> None:
    await api.dead_letter(0, error_type="repo_fetch_failed")
    invalid = await api.dead_letter(1, error_type="invalid_record")
    output = answer(await api.post(METHOD, {"errorType": "invalid_record"}), retry_all_dlq.Output)
    assert output.retried_count == 1
    [op] = await active(api)
    assert op.params == {"entryIds": [invalid]}


async def test_nothing_to_retry_starts_nothing(api: Api) -> None:
    await api.dead_letter(0, error_type="repo_fetch_failed")
    assert answer(await api.post(METHOD, {"errorType": "no_such_type"}), retry_all_dlq.Output).retried_count == 0
    assert await active(api) == []
