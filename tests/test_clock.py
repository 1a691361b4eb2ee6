"""Timestamps as the store keeps them: fixed-width RFC 3339 UTC, so that text order is time order; answers show a
moment to the millisecond."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from chive_admin.clock import micros, now_ms_stamp, now_stamp, parse_stamp, stamp, stamp_in, utc_now

STORED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_a_stamp_is_utc_with_microseconds_whatever_the_zone_given() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert stamp(moment) == "2026-01-02T01:04:05.000006Z"
    assert STORED.fullmatch(now_stamp())
    assert utc_now().tzinfo is UTC


def test_text_order_is_time_order() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(microseconds=n * 999_999) for n in range(50)]
    stamps = [stamp(m) for m in moments]
    assert sorted(stamps) == stamps
    assert len({len(s) for s in stamps}) == 1


def test_parse_is_the_inverse_of_stamp() -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert parse_stamp(stamp(moment)) == moment
    assert parse_stamp("2026-05-06T07:08:09Z") == moment.replace(microsecond=0)


def test_stamp_in_is_that_far_from_now() -> None:
    before = utc_now()
    later = parse_stamp(stamp_in(3600))
    assert timedelta(seconds=3600) <= later - before < timedelta(seconds=3660)
    assert parse_stamp(stamp_in(-60)) < before


def test_an_answers_moment_has_milliseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_ms_stamp())


def test_micros_are_whole_microseconds_since_the_epoch() -> None:
    assert micros(datetime(1970, 1, 1, 0, 0, 1, 250, tzinfo=UTC)) == 1_000_250
    assert micros(parse_stamp("2026-01-01T00:00:00.000001Z")) % 1_000_000 == 1
