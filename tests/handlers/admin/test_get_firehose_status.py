"""getFirehoseStatus: the committed cursor (the relay's with a relay, the lowest of the PDS sources' with only
those, else the lowest of all; absent before any), the dead-letter total that listDLQEntries reports, and when it
was read."""

from __future__ import annotations

import dataclasses

from support.admin_api import USER, Api, answer, refusal
from support.clock import ManualClock
from support.firehose import idle_indexer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_firehose_status, list_dlq_entries
from chive_admin.clock import now_stamp, parse_stamp
from chive_admin.store import firehose_cursors, index
from chive_admin.upstream.firehose import Connected, Passing

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


async def test_no_sources_when_live_indexing_is_off(api: Api) -> None:
    assert "sources" not in (await api.get(METHOD)).json()


async def test_each_source_with_its_committed_cursor_lag_and_rate(api: Api) -> None:
    clock = ManualClock(parse_stamp("2026-12-06T10:00:00Z").timestamp())
    live = idle_indexer(api.services, "https://relay.example", clock)
    flow = live.stats.flow
    flow.received(Connected(None), clock())
    for seq in range(1, 4):
        flow.received(Passing(seq, "#identity", None, clock() - 10 + seq), clock())
    flow.done(3)  # Connected, 1 and 2: seq 3 waits, sequenced 3 s ago
    clock.now += 2
    async with api.services.db.write() as conn:
        await firehose_cursors.advance(conn, "https://relay.example", 2, now_stamp())
    status = answer(await api.get(METHOD), get_firehose_status.Output)
    assert status.sources is not None
    (source,) = status.sources
    assert (source.url, source.connected, source.cursor) == ("https://relay.example", True, "2")
    assert source.since == "2026-12-06T10:00:00.000Z"
    assert (source.lag_ms, source.events_last_minute, source.problem) == (9_000, 3, None)
    assert source.newest_event_at == "2026-12-06T09:59:53.000Z"
    assert source.applied_event_at == "2026-12-06T09:59:52.000Z"
    clock.now += 120
    (source,) = answer(await api.get(METHOD), get_firehose_status.Output).sources or []
    assert source.events_last_minute == 0
    assert source.problem is not None  # the event waiting is two minutes old
