"""The arithmetic of the analytics methods over hourly rollups: buckets, windows and velocities, in UTC.

Velocity compares a recent window's views per day with its baseline's (a longer period ending with it), in
thousandths: 1000 is as busy as usual, 7000 (the most for 24 h against 7 days) every view of the baseline in the
window. Acceleration is the change of velocity from the window before. Integer divisions round down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from chive_admin.store.engagement import HourCounts, Velocity

Granularity = Literal["hour", "day", "week"]
#: buckets answered per granularity
BUCKETS: dict[Granularity, int] = {"hour": 24, "day": 30, "week": 12}
#: hours of each trending window, and of its baseline
WINDOWS: dict[str, tuple[int, int]] = {"24h": (24, 7 * 24), "7d": (7 * 24, 30 * 24), "30d": (30 * 24, 90 * 24)}
#: 1970-01-01 was a Thursday: weeks start on Mondays, three days earlier
_WEEK_OFFSET_DAYS = 3


def hour_of(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def hour_stamp(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def bucketing(granularity: Granularity) -> tuple[int, int]:
    """Hours per bucket, and the offset that makes ``(hour + offset) // size`` the bucket of an hour."""
    if granularity == "hour":
        return 1, 0
    if granularity == "day":
        return 24, 0
    return 7 * 24, _WEEK_OFFSET_DAYS * 24


def bucket_starts(now: datetime, granularity: Granularity) -> list[int]:
    """The first hour of each bucket, oldest first, the last one holding ``now``."""
    size, offset = bucketing(granularity)
    last = (hour_of(now) + offset) // size * size - offset
    return [last - size * n for n in range(BUCKETS[granularity] - 1, -1, -1)]


def buckets(starts: Sequence[int], sums: Sequence[HourCounts]) -> list[tuple[int, int, int]]:
    """``(first hour, views, downloads)`` of each bucket of ``starts``, zero where ``sums`` has none."""
    found = {row.hour: row for row in sums}
    return [
        (start, found[start].views, found[start].downloads) if start in found else (start, 0, 0) for start in starts
    ]


@dataclass(frozen=True)
class Trend:
    velocity: int
    acceleration: int | None
    daily_avg_current: int
    daily_avg_baseline: int


def _velocity(views: int, baseline_views: int, window: int, baseline: int) -> int:
    return views * baseline * 1000 // (baseline_views * window)


def trend(row: Velocity, window: int, baseline: int) -> Trend:
    """The velocity of an eprint with views in the window (so in its baseline too), and its acceleration when the
    window before had a baseline to compare with."""
    previous = (
        _velocity(row.previous_views, row.previous_baseline_views, window, baseline)
        if row.previous_baseline_views
        else None
    )
    velocity = _velocity(row.views, row.baseline_views, window, baseline)
    return Trend(
        velocity=velocity,
        acceleration=None if previous is None else velocity - previous,
        daily_avg_current=row.views * 24 * 1000 // window,
        daily_avg_baseline=row.baseline_views * 24 * 1000 // baseline,
    )
