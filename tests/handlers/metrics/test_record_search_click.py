"""recordSearchClick: a click on a result of a recorded impression counts once; an unknown impression is 400."""

from __future__ import annotations

from support.admin_api import USER, Api, answer, refusal
from support.engagement import submission

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.metrics import record_search_click
from chive_admin.store import engagement

METHOD = ids.PUB_CHIVE_METRICS_RECORD_SEARCH_CLICK
IMPRESSION = ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION
PAPER = submission("paper")


async def test_a_click_counts_once_per_result_of_a_known_impression(api: Api) -> None:
    click = {"impressionId": "imp-1", "uri": PAPER.uri, "position": 0}
    assert "imp-1" in refusal(await api.post(METHOD, click), 400, "InvalidRequest")
    shown = {"impressionId": "imp-1", "query": "graphs", "resultCount": 3, "at": "2026-01-01T00:00:00Z"}
    assert (await api.post(IMPRESSION, shown)).status_code == 200
    assert answer(await api.post(METHOD, click), record_search_click.Output).success is True
    assert answer(await api.post(METHOD, click), record_search_click.Output).success is False
    refusal(await api.post(METHOD, click, headers=USER), 403, "AdminRequired")
    async with api.services.db.read() as conn:
        assert await engagement.search_totals(conn) == engagement.SearchTotals(impressions=1, clicks=1)


async def test_an_overlong_impression_id_is_refused(api: Api) -> None:
    click = {"impressionId": "x" * 129, "uri": PAPER.uri, "position": 0}
    assert "at most 128" in refusal(await api.post(METHOD, click), 400, "InvalidRequest")
