"""dismissDLQEntry: drop the entry at a queue position; a position past the end names the queue's size."""

from __future__ import annotations

import pytest
from support.admin_api import Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import dismiss_dlq_entry
from chive_admin.handlers.admin import dismiss_dlq_entry as handler
from chive_admin.store import dead_letters
from chive_admin.store.db import Database

METHOD = ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY


async def queued_items(api: Api) -> list[object]:
    async with api.services.db.read() as conn:
        entries, _ = await dead_letters.page(conn, 100, 0)
    return [e.item["item"] for e in entries]


async def test_the_entry_at_the_position_is_dismissed(api: Api) -> None:
    entry_ids = [await api.dead_letter(n) for n in range(3)]
    output = answer(await api.post(METHOD, {"index": 1}), dismiss_dlq_entry.Output)
    assert output.success is True
    assert output.message == f"Entry {entry_ids[1]} (test_item) dismissed"
    assert await queued_items(api) == [0, 2]


async def test_a_position_past_the_end_is_refused(api: Api) -> None:
    await api.dead_letter(0)
    message = refusal(await api.post(METHOD, {"index": 1}), 400, "InvalidRequest")
    assert message == "No dead-letter entry at index 1 (the queue holds 1)"
    refusal(await api.post(METHOD, {"index": -1}), 400, "InvalidRequest")
    assert await queued_items(api) == [0]


async def test_an_entry_gone_since_it_was_found_is_no_success(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    entry_id = await api.dead_letter(0)
    found = handler.at_index

    async def then_dismissed_elsewhere(db: Database, index: int) -> dead_letters.DeadLetter:
        entry = await found(db, index)
        async with db.write() as conn:
            await dead_letters.remove(conn, entry.id)
        return entry

    monkeypatch.setattr(handler, "at_index", then_dismissed_elsewhere)
    output = answer(await api.post(METHOD, {"index": 0}), dismiss_dlq_entry.Output)
    assert (output.success, output.message) == (False, f"Entry {entry_id} had already left the queue")
