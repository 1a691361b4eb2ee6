"""getFirehoseStatus: the committed cursor (the relay's with a relay, the lowest of the PDS sources' with only
those, else the lowest of all; absent before any), the dead-letter total that listDLQEntries reports, and when it
was read."""

from __future__ import annotations

import dataclasses

from support.admin_api import USER, Api, answer, refusal

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_firehose_status, list_dlq_entries
from chive_admin.clock import now_stamp
from chive_admin.store import firehose_cursors, index

METHOD = ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS


async def test_no_cursor_before_a_batch_commits(api: Api) -> None:
    status = answer(await api.get(METHOD), get_firehose_status.Output)
    assert status.cursor is None
    assert status.dlq_count == 0
    assert "cursor" not in (await api.get(METHOD)).json()


async def test_the_lowest_committed_cursor_and_the_dlq_total(api: Api) -> None:
    async with api.services.db.write() as conn:
        await firehose_cursors.advance(conn, "https://relay.example", 1200, now_stamp())
        await firehose_cursors.advance(conn, "https://pds.example", 77, now_stamp())
        await firehose_cursors.advance(conn, "https://pds.example", 5, now_stamp())  # never backwards
    for item in range(3):
        await api.dead_letter(item)
    status = answer(await api.get(METHOD), get_firehose_status.Output)
    assert status.cursor == "77"
    listed = answer(await api.get(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES), list_dlq_entries.Output)
    assert status.dlq_count == listed.total == 3


async def test_admins_only(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")


async def test_with_a_relay_its_cursor_with_only_pdses_the_lowest_of_theirs(api: Api) -> None:
    async with api.services.db.write() as conn:
        for pds in ("https://a.example", "https://b.example"):
            await index.ensure_pds(conn, pds, now_stamp())
        await firehose_cursors.advance(conn, "https://relay.example", 900, now_stamp())
        await firehose_cursors.advance(conn, "https://a.example", 40, now_stamp())
        await firehose_cursors.advance(conn, "https://b.example", 60, now_stamp())
        await firehose_cursors.advance(conn, "https://gone.example", 3, now_stamp())  # no registered PDS
    settings = api.services.settings
    api.services.settings = dataclasses.replace(settings, firehose_url="https://relay.example", firehose_pdses=True)
    assert answer(await api.get(METHOD), get_firehose_status.Output).cursor == "900"
    api.services.settings = dataclasses.replace(settings, firehose_pdses=True)
    assert answer(await api.get(METHOD), get_firehose_status.Output).cursor == "40"
    api.services.settings = dataclasses.replace(settings, firehose_url="https://quiet.example")
    assert answer(await api.get(METHOD), get_firehose_status.Output).cursor is None  # the relay committed nothing
