"""getMetricsOverview: the most viewed visible eprints of the last N days with title and author from the index,
the period's exact bounds (whole hours, ending with the last complete one), and real empty results when nothing
was recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from support.admin_api import Api, answer, refusal
from support.engagement import AUTHOR, index_eprints, submission, views

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_metrics_overview as api_model
from chive_admin.store import takedowns

METHOD = ids.PUB_CHIVE_ADMIN_GET_METRICS_OVERVIEW
NOW = datetime(2026, 3, 4, 11, 30, tzinfo=UTC)
H = int(NOW.timestamp()) // 3600 - 1  # the last complete hour: 10:00 to 11:00
A, B, C = submission("a"), submission("b"), submission("c")


async def test_top_eprints_of_the_period(api: Api) -> None:
    api.services.engagement.clock = lambda: NOW
    empty = answer(await api.get(METHOD), api_model.Output).model_dump(by_alias=True, exclude_none=True)
    assert empty == {
        "trending": [],
        "period": {"days": 7, "startDate": "2026-02-25T11:00:00.000Z", "endDate": "2026-03-04T11:00:00.000Z"},
    }
    await index_eprints(api.services.db, A, B, C)
    await views(api.services.db, {A.uri: {H: 2, H - 30: 5}, B.uri: {H - 2: 3}, C.uri: {H: 9}})
    await views(api.services.db, {B.uri: {H: 1}}, kind="download")
    async with api.services.db.write() as conn:
        await takedowns.take_down(conn, C.uri, C.collection, None, AUTHOR, "2026-03-04T00:00:00.000Z")
    api.services.hourly_answers.clear()  # the empty answer above was for the same hour
    week = answer(await api.get(METHOD), api_model.Output).model_dump(by_alias=True, exclude_none=True)["trending"]
    assert week == [
        {"uri": A.uri, "title": "On a", "authorDid": AUTHOR, "authorHandle": "author.test", "views": 7, "downloads": 0},
        {"uri": B.uri, "title": "On b", "authorDid": AUTHOR, "authorHandle": "author.test", "views": 3, "downloads": 1},
    ]
    day = answer(await api.get(METHOD, {"days": 1}), api_model.Output)
    assert [(t.uri, t.views) for t in day.trending or []] == [(B.uri, 3), (A.uri, 2)]
    assert day.period is not None
    assert day.period.start_date == "2026-03-03T11:00:00.000Z"
    refusal(await api.get(METHOD, {"days": 91}), 400, "InvalidRequest")
