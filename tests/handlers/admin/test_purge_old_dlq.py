"""purgeOldDLQ: delete the entries that entered the queue more than a number of days ago (7 unless told)."""

from __future__ import annotations

from datetime import timedelta

from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import purge_old_dlq
from chive_admin.clock import stamp, utc_now
from chive_admin.store import dead_letters

METHOD = ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ


def days_ago(days: float) -> str:
    return stamp(utc_now() - timedelta(days=days))


async def remaining(api: Api) -> list[object]:
    async with api.services.db.read() as conn:
        entries, _ = await dead_letters.page(conn, 100, 0)
    return [e.item["item"] for e in entries]


async def test_entries_older_than_the_days_given_are_purged(api: Api) -> None:
    for item, age in enumerate((40, 20, 8, 6, 0)):
        await api.dead_letter(item, created_at=days_ago(age))
    assert answer(await api.post(METHOD, {"olderThanDays": 30}), purge_old_dlq.Output).purged_count == 1
    assert answer(await api.post(METHOD, {}), purge_old_dlq.Output).purged_count == 2  # the lexicon's default: 7
    assert await remaining(api) == [3, 4]


async def test_any_number_of_days_up_to_centuries(api: Api) -> None:
    await api.dead_letter(0, created_at=days_ago(400))
    output = answer(await api.post(METHOD, {"olderThanDays": 10**12}), purge_old_dlq.Output)
    assert output.purged_count == 0
    assert await remaining(api) == [0]


async def test_less_than_a_day_is_refused(api: Api) -> None:
    await api.dead_letter(0)
    assert "olderThanDays" in refusal(await api.post(METHOD, {"olderThanDays": 0}), 400, "InvalidRequest")
    assert await remaining(api) == [0]
