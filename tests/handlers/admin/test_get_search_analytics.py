"""getSearchAnalytics: impressions and clicks recorded, zero before any."""

from __future__ import annotations

from support.admin_api import Api, answer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_search_analytics as api_model

METHOD = ids.PUB_CHIVE_ADMIN_GET_SEARCH_ANALYTICS
URI = "at://did:plc:searchauthor0000000000000/pub.chive.eprint.submission/p"


async def test_totals_of_impressions_and_clicks(api: Api) -> None:
    empty = answer(await api.get(METHOD), api_model.Output)
    assert (empty.total_searches, empty.total_clicks) == (0, 0)
    for n in range(3):
        shown = {"impressionId": f"imp-{n}", "query": "q", "resultCount": 5, "at": "2026-01-01T00:00:00Z"}
        assert (await api.post(ids.DEV_CHIVEADMIN_SEARCH_RECORD_IMPRESSION, shown)).status_code == 200
    for n, position in ((0, 0), (0, 0), (0, 1), (2, 0)):
        body = {"impressionId": f"imp-{n}", "uri": URI.replace("/p", f"/p{position}"), "position": position}
        assert (await api.post(ids.PUB_CHIVE_METRICS_RECORD_SEARCH_CLICK, body)).status_code == 200
    totals = answer(await api.get(METHOD), api_model.Output)
    assert (totals.total_searches, totals.total_clicks) == (3, 3)
