"""Engagement rollups: views and downloads of eprints per hour, search impressions and what followed them.

Only counts are kept, never the events (migration 023). An hour is a whole number of hours since the Unix epoch,
UTC. A view or download counts once per viewer, eprint and hour: ``engagement_seen`` holds the salted hashes of the
viewers counted in the current hours and is pruned as hours end, so it holds at most a few hours of distinct viewers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from chive_admin._generated import ids
from chive_admin.store.sql import Conn, any_of, json_text
from chive_admin.store.takedowns import visible

Kind = Literal["view", "download"]
SearchKind = Literal["click", "dwell", "download"]

#: hours of views and downloads kept: a 30-day window and its 90-day baseline, one window back (acceleration)
RETENTION_HOURS = 120 * 24
#: hours a search impression can be named by a click, a dwell time or a download
IMPRESSION_HOURS = 24
#: hours of ``engagement_seen`` kept behind the current one: an event stamped just before an hour ended may reach the
#: database just after it
SEEN_GRACE_HOURS = 1
_SALT_KEY = "engagement_salt"


@dataclass(frozen=True)
class Event:
    uri: str
    kind: Kind
    hour: int
    #: the salted hash of the viewer
    viewer: str


async def salt(conn: Conn, fresh: str) -> str:
    """The server's salt for viewer hashes: the stored one, else ``fresh``, stored now (first writer wins)."""
    await conn.execute(
        "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (_SALT_KEY, fresh)
    )
    row = await conn.fetchone("SELECT value FROM server_meta WHERE key = ?", (_SALT_KEY,))
    assert row is not None
    return str(row[0])


async def indexed_eprints(conn: Conn, uris: Sequence[str]) -> set[str]:
    """Which of ``uris`` are visible eprint submissions of the index."""
    if not uris:
        return set()
    condition, args = any_of(conn.dialect, "r.uri", sorted(set(uris)))
    rows = await conn.fetchall(
        f"SELECT r.uri FROM records r WHERE {condition}"
        f" AND r.collection = '{ids.PUB_CHIVE_EPRINT_SUBMISSION}' AND {visible('r')}",
        args,
    )
    return {str(row[0]) for row in rows}


async def record(conn: Conn, events: Sequence[Event]) -> list[bool]:
    """Count ``events``, each at most once per (hour, kind, uri, viewer) ever seen; whether each one counted."""
    distinct = list(dict.fromkeys((e.hour, e.kind, e.uri, e.viewer) for e in events))
    new: set[tuple[int, str, str, str]] = set()
    # a few hundred rows per statement keeps well under either engine's bound on parameters
    for start in range(0, len(distinct), 500):
        chunk = distinct[start : start + 500]
        rows = await conn.fetchall(
            "INSERT INTO engagement_seen (hour, kind, uri, viewer) VALUES "
            + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT DO NOTHING RETURNING hour, kind, uri, viewer",
            [value for key in chunk for value in key],
        )
        new.update((int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows)
    counted: list[bool] = []
    for event in events:
        key = (event.hour, event.kind, event.uri, event.viewer)
        counted.append(key in new)
        new.discard(key)  # a second copy in the same batch is a repeat
    per_hour = Counter((e.uri, e.kind, e.hour) for e, c in zip(events, counted, strict=True) if c)
    if per_hour:
        await _add_counts(conn, per_hour)
    return counted


async def _add_counts(conn: Conn, per_hour: Counter[tuple[str, Kind, int]]) -> None:
    await conn.executemany(
        "INSERT INTO engagement_hourly (uri, kind, hour, count) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (uri, kind, hour) DO UPDATE SET count = engagement_hourly.count + excluded.count",
        [(uri, kind, hour, n) for (uri, kind, hour), n in sorted(per_hour.items())],
    )
    totals: Counter[tuple[Kind, int]] = Counter()
    per_uri: dict[str, list[int]] = {}
    for (uri, kind, hour), n in per_hour.items():
        totals[(kind, hour)] += n
        counts = per_uri.setdefault(uri, [0, 0])
        counts[0 if kind == "view" else 1] += n
    await conn.executemany(
        "INSERT INTO engagement_hour_totals (kind, hour, count) VALUES (?, ?, ?)"
        " ON CONFLICT (kind, hour) DO UPDATE SET count = engagement_hour_totals.count + excluded.count",
        [(kind, hour, n) for (kind, hour), n in sorted(totals.items())],
    )
    await conn.executemany(
        "INSERT INTO engagement_totals (uri, views, downloads) VALUES (?, ?, ?) ON CONFLICT (uri) DO UPDATE SET"
        " views = engagement_totals.views + excluded.views,"
        " downloads = engagement_totals.downloads + excluded.downloads",
        [(uri, views, downloads) for uri, (views, downloads) in sorted(per_uri.items())],
    )


async def prune(conn: Conn, now_hour: int) -> None:
    """Drop what is past its keeping: rollups older than the retention, viewers of hours that are over,
    impressions (and their clicks) older than a day."""
    oldest = now_hour - RETENTION_HOURS
    await conn.execute("DELETE FROM engagement_hourly WHERE hour < ?", (oldest,))
    await conn.execute("DELETE FROM engagement_hour_totals WHERE hour < ?", (oldest,))
    await conn.execute("DELETE FROM search_hourly WHERE hour < ?", (oldest,))
    await conn.execute("DELETE FROM engagement_seen WHERE hour < ?", (now_hour - SEEN_GRACE_HOURS,))
    await conn.execute("DELETE FROM search_impressions WHERE hour < ?", (now_hour - IMPRESSION_HOURS,))
    await conn.execute("DELETE FROM search_events_seen WHERE hour < ?", (now_hour - IMPRESSION_HOURS,))


# --- search ---------------------------------------------------------------------------------------------------


async def record_impression(conn: Conn, impression_id: str, result_count: int, hour: int) -> bool:
    """Keep an impression (a repeat of its id is ignored); whether it was new."""
    row = await conn.fetchone(
        "INSERT INTO search_impressions (impression_id, hour, result_count) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (impression_id, hour, result_count),
    )
    if row is None:
        return False
    await _add_search(conn, "impression", hour, 0)
    return True


async def impression_known(conn: Conn, impression_id: str) -> bool:
    row = await conn.fetchone("SELECT 1 FROM search_impressions WHERE impression_id = ?", (impression_id,))
    return row is not None


async def record_search_event(
    conn: Conn, impression_id: str, kind: SearchKind, uri: str, hour: int, dwell_ms: int = 0
) -> bool:
    """Count a click, dwell time or download on a result of an impression, once per (impression, kind, uri)."""
    row = await conn.fetchone(
        "INSERT INTO search_events_seen (impression_id, kind, uri, hour) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (impression_id, kind, uri, hour),
    )
    if row is None:
        return False
    await _add_search(conn, kind, hour, dwell_ms)
    return True


async def _add_search(conn: Conn, kind: str, hour: int, total_ms: int) -> None:
    await conn.execute(
        "INSERT INTO search_hourly (kind, hour, count, total_ms) VALUES (?, ?, 1, ?) ON CONFLICT (kind, hour)"
        " DO UPDATE SET count = search_hourly.count + 1, total_ms = search_hourly.total_ms + excluded.total_ms",
        (kind, hour, total_ms),
    )


@dataclass(frozen=True)
class SearchTotals:
    impressions: int
    clicks: int


async def search_totals(conn: Conn) -> SearchTotals:
    """Impressions and clicks over the retention period (a few rows per hour)."""
    rows = await conn.fetchall(
        "SELECT kind, sum(count) FROM search_hourly WHERE kind IN ('impression', 'click') GROUP BY kind"
    )
    sums = {str(kind): int(total) for kind, total in rows}
    return SearchTotals(impressions=sums.get("impression", 0), clicks=sums.get("click", 0))


# --- reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourCounts:
    hour: int
    views: int
    downloads: int


async def hourly_series(
    conn: Conn, uri: str | None, first_hour: int, last_hour: int, bucket_hours: int = 1, offset_hours: int = 0
) -> list[HourCounts]:
    """Views and downloads from ``first_hour`` to ``last_hour`` (of one eprint, or of all), summed in buckets of
    ``bucket_hours`` (the bucket of an hour is ``(hour + offset_hours) // bucket_hours``), for each bucket that has
    any, in order; each named by its first hour. The database sums: a week of buckets is a few rows to Python."""
    bucket = f"(hour + {int(offset_hours)}) / {int(bucket_hours)}"
    views = "sum(CASE WHEN kind = 'view' THEN count ELSE 0 END)"
    downloads = "sum(CASE WHEN kind = 'download' THEN count ELSE 0 END)"
    args: list[object] = [first_hour, last_hour]
    if uri is None:
        source = "engagement_hour_totals WHERE"
    else:
        source, args = "engagement_hourly WHERE uri = ? AND", [uri, *args]
    rows = await conn.fetchall(
        f"SELECT {bucket} AS b, {views}, {downloads} FROM {source} hour BETWEEN ? AND ? GROUP BY b ORDER BY b", args
    )
    return [HourCounts(int(r[0]) * bucket_hours - offset_hours, int(r[1]), int(r[2])) for r in rows]


@dataclass(frozen=True)
class EprintCounts:
    uri: str
    views: int
    downloads: int
    title: str | None
    submitted_by: str | None
    handle: str | None


#: views and downloads per eprint with any in the hours ``[?, ?]``, read from the hour index alone
_WINDOW_SUMS = (
    "SELECT uri, sum(CASE WHEN kind = 'view' THEN count ELSE 0 END) AS views,"
    " sum(CASE WHEN kind = 'download' THEN count ELSE 0 END) AS downloads"
    " FROM engagement_hourly WHERE hour BETWEEN ? AND ? GROUP BY uri"
)


async def top_eprints(conn: Conn, first_hour: int, last_hour: int, limit: int) -> list[EprintCounts]:
    """The visible eprints most viewed in the hours ``[first_hour, last_hour]`` (then most downloaded, then by
    uri), with their title and submitter from the index."""
    dialect = conn.dialect
    submitted_by = json_text(dialect, "r.value", "submittedBy")

    def order(t: str) -> str:
        return f"{t}views DESC, {t}downloads DESC, {t}uri"

    # ranked first, on the visibility of each eprint alone; the record's fields are read for the few ranked only
    rows = await conn.fetchall(
        f"SELECT t.uri, t.views, t.downloads, {json_text(dialect, 'r.value', 'title')}, {submitted_by}, p.handle"
        f" FROM (SELECT w.uri, w.views, w.downloads FROM ({_WINDOW_SUMS}) w JOIN records v ON v.uri = w.uri"
        f" AND v.collection = '{ids.PUB_CHIVE_EPRINT_SUBMISSION}' AND {visible('v')}"
        f" WHERE w.views > 0 ORDER BY {order('w.')} LIMIT ?) t"
        f" JOIN records r ON r.uri = t.uri LEFT JOIN repos p ON p.did = {submitted_by} ORDER BY {order('t.')}",
        (first_hour, last_hour, limit),
    )
    return [EprintCounts(str(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]


async def all_time(conn: Conn, uris: Iterable[str]) -> dict[str, tuple[int, int]]:
    """All-time views and downloads of each of ``uris`` that has any."""
    wanted = list(uris)
    if not wanted:
        return {}
    condition, args = any_of(conn.dialect, "uri", wanted)
    rows = await conn.fetchall(f"SELECT uri, views, downloads FROM engagement_totals WHERE {condition}", args)
    return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


def _sum(condition: str, value: str) -> str:
    # an integer on both engines (PostgreSQL's sum of a bigint is a numeric), so the ranking divides alike
    return f"CAST(sum(CASE WHEN {condition} THEN {value} ELSE 0 END) AS BIGINT)"


@dataclass(frozen=True)
class Velocity:
    uri: str
    title: str | None
    submitted_by: str | None
    #: views in the window, in its baseline (which ends with it), and the same one window earlier
    views: int
    baseline_views: int
    previous_views: int
    previous_baseline_views: int
    downloads: int


async def trending(conn: Conn, now_hour: int, window: int, baseline: int, limit: int) -> list[Velocity]:
    """The visible eprints viewed in the last ``window`` hours, fastest first: by their window's views per hour
    against their baseline's (the last ``baseline`` hours), in integers; ties by views, then uri. Reads the hours of
    the window and the baseline one window back, from the hour index."""
    dialect = conn.dialect
    now_w, now_b = now_hour - window, now_hour - baseline
    views = "CASE WHEN kind = 'view' THEN count ELSE 0 END"
    downloads = "CASE WHEN kind = 'download' THEN count ELSE 0 END"
    sums = (
        f"SELECT uri, {_sum(f'hour > {now_w}', views)} AS cur,"
        f" {_sum(f'hour > {now_b}', views)} AS base,"
        f" {_sum(f'hour <= {now_w} AND hour > {now_w - window}', views)} AS prev,"
        f" {_sum(f'hour <= {now_w} AND hour > {now_b - window}', views)} AS prev_base,"
        f" {_sum(f'hour > {now_w}', downloads)} AS downloads"
        " FROM engagement_hourly WHERE hour > ? AND hour <= ? GROUP BY uri"
    )

    # the ratio in integers, as velocity is answered: the baseline includes the window, so base >= cur > 0
    def order(t: str) -> str:
        return f"({t}cur * {baseline * 1000}) / ({t}base * {window}) DESC, {t}cur DESC, {t}uri"

    rows = await conn.fetchall(
        f"SELECT t.uri, {json_text(dialect, 'r.value', 'title')}, {json_text(dialect, 'r.value', 'submittedBy')},"
        " t.cur, t.base, t.prev, t.prev_base, t.downloads"
        f" FROM (SELECT w.* FROM ({sums}) w JOIN records v ON v.uri = w.uri"
        f" AND v.collection = '{ids.PUB_CHIVE_EPRINT_SUBMISSION}' AND {visible('v')}"
        f" WHERE w.cur > 0 ORDER BY {order('w.')} LIMIT ?) t JOIN records r ON r.uri = t.uri ORDER BY {order('t.')}",
        (now_b - window, now_hour, limit),
    )
    return [Velocity(str(r[0]), r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7])) for r in rows]


async def any_recorded(conn: Conn) -> bool:
    """Whether any view or download was ever counted (a deployment that feeds none has no counts to show)."""
    return await conn.fetchone("SELECT 1 FROM engagement_totals LIMIT 1") is not None
