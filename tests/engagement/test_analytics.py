"""The analytics' arithmetic: buckets of whole UTC hours (weeks from Mondays), zero-filled; velocity, acceleration
and daily averages in thousandths, rounded down, acceleration absent without an earlier baseline."""

from __future__ import annotations

from datetime import UTC, datetime

from chive_admin.engagement import analytics
from chive_admin.store.engagement import HourCounts, Velocity

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday


def stamps(granularity: analytics.Granularity) -> list[str]:
    return [analytics.hour_stamp(h) for h in analytics.bucket_starts(NOW, granularity)]


def test_bucket_starts() -> None:
    assert stamps("hour")[-2:] == ["2026-03-04T09:00:00.000Z", "2026-03-04T10:00:00.000Z"]
    assert stamps("day")[0] == "2026-02-03T00:00:00.000Z"
    assert stamps("week")[-3:] == ["2026-02-16T00:00:00.000Z", "2026-02-23T00:00:00.000Z", "2026-03-02T00:00:00.000Z"]
    assert [len(stamps(g)) for g in ("hour", "day", "week")] == [24, 30, 12]


def test_buckets_are_zero_filled() -> None:
    assert analytics.buckets([10, 20, 30], [HourCounts(20, 3, 1)]) == [(10, 0, 0), (20, 3, 1), (30, 0, 0)]


def test_trend_in_thousandths() -> None:
    row = Velocity("at://x/y/z", "t", None, views=10, baseline_views=16, previous_views=2, previous_baseline_views=10,
                   downloads=0)  # fmt: skip
    assert analytics.trend(row, 24, 168) == analytics.Trend(4375, 2975, 10_000, 2285)
    first = Velocity("at://x/y/z", "t", None, 3, 3, 0, 0, 0)
    assert analytics.trend(first, 24, 168).acceleration is None
