"""Timestamps as the store keeps them: RFC 3339 UTC strings of fixed width, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_stamp() -> str:
    return stamp(utc_now())


def now_ms_stamp() -> str:
    """Now to the millisecond, as answers show a moment (not the store's fixed-width microsecond form)."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stamp_in(seconds: float) -> str:
    return stamp(utc_now() + timedelta(seconds=seconds))


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch_ms_stamp(seconds: float | None) -> str | None:
    """An epoch time as answers show a moment; ``None`` for none, or for one no datetime can hold."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    except (OverflowError, OSError, ValueError):
        return None


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch: a moment as an integer, for latencies computed in SQL."""
    return (moment - _EPOCH) // timedelta(microseconds=1)  # exact: a float of seconds would round
