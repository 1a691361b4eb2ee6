"""getViewDownloadTimeSeries: zero-filled UTC buckets (24 hourly, 30 daily, 12 weekly from Mondays), the last one
holding now; counts fall on the right side of hour, day and week boundaries; one eprint or all; an unknown uri has
zero buckets."""

from __future__ import annotations

from datetime import UTC, datetime

from support.admin_api import Api, answer, refusal
from support.engagement import index_eprints, submission, views

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_view_download_time_series as api_model

METHOD = ids.PUB_CHIVE_ADMIN_GET_VIEW_DOWNLOAD_TIME_SERIES
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday
H = int(NOW.timestamp()) // 3600
A, B = submission("a"), submission("b")


def hour(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) // 3600


async def series(api: Api, **params: str) -> list[tuple[str, int, int]]:
    output = answer(await api.get(METHOD, params), api_model.Output)
    return [(b.timestamp, b.views, b.downloads) for b in output.buckets]


async def test_buckets_on_each_side_of_the_boundaries(api: Api) -> None:
    await index_eprints(api.services.db, A, B)
    api.services.engagement.clock = lambda: NOW
    await views(
        api.services.db,
        {
            A.uri: {
                H: 1,  # 10:00 today
                H - 1: 2,  # 09:00 today
                hour("2026-03-04T00:00:00"): 4,  # the first hour of today
                hour("2026-03-03T23:00:00"): 8,  # the last hour of yesterday
                hour("2026-03-02T00:00:00"): 16,  # Monday: this week
                hour("2026-03-01T23:00:00"): 32,  # Sunday: last week
            },
            B.uri: {H: 64},
        },
    )
    await views(api.services.db, {A.uri: {H: 5}}, kind="download")

    hourly = await series(api, granularity="hour", uri=A.uri)
    assert len(hourly) == 24
    assert hourly[-1] == ("2026-03-04T10:00:00.000Z", 1, 5)
    assert hourly[-2] == ("2026-03-04T09:00:00.000Z", 2, 0)
    assert hourly[0][0] == "2026-03-03T11:00:00.000Z"
    assert sum(v for _, v, _ in hourly) == 1 + 2 + 4 + 8

    daily = await series(api, granularity="day", uri=A.uri)
    assert len(daily) == 30
    assert daily[-3:] == [
        ("2026-03-02T00:00:00.000Z", 16, 0),
        ("2026-03-03T00:00:00.000Z", 8, 0),
        ("2026-03-04T00:00:00.000Z", 7, 5),
    ]
    assert daily[-4] == ("2026-03-01T00:00:00.000Z", 32, 0)
    assert daily[0][0] == "2026-02-03T00:00:00.000Z"

    weekly = await series(api, granularity="week", uri=A.uri)
    assert len(weekly) == 12
    assert weekly[-2:] == [("2026-02-23T00:00:00.000Z", 32, 0), ("2026-03-02T00:00:00.000Z", 31, 5)]

    overall = await series(api, granularity="hour")
    assert overall[-1] == ("2026-03-04T10:00:00.000Z", 65, 5)
    assert (await series(api))[-1] == ("2026-03-04T00:00:00.000Z", 71, 5)  # day by default


async def test_an_unknown_uri_or_an_empty_store_has_zero_buckets(api: Api) -> None:
    api.services.engagement.clock = lambda: NOW
    for params in ({}, {"uri": "at://did:plc:nobody00000000000000000/pub.chive.eprint.submission/x"}):
        buckets = await series(api, granularity="week", **params)
        assert len(buckets) == 12
        assert all(v == d == 0 for _, v, d in buckets)


async def test_an_unknown_granularity_is_refused(api: Api) -> None:
    assert "granularity" in refusal(await api.get(METHOD, {"granularity": "month"}), 400, "InvalidRequest")
