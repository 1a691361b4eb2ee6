"""Activity intents (migration 025): logged before a user's PDS write, confirmed when the record reaches the index,
failed on the user's word, timed out after an hour; and their correlation per category and hour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chive_admin.store.sql import Conn, any_of

HOUR_US = 3600 * 1_000_000
#: microseconds an intent waits for its record before it counts as timed out
CONFIRM_WINDOW_US = HOUR_US
#: statements name at most this many records: well under either engine's bound on parameters
_CHUNK = 500


@dataclass(frozen=True)
class Intent:
    id: str
    did: str
    collection: str
    rkey: str
    action: str
    category: str
    created_us: int

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"


async def add(conn: Conn, intent: Intent) -> None:
    await conn.execute(
        "INSERT INTO activity_intents (id, did, collection, rkey, uri, action, category, created_us, hour, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        (
            intent.id,
            intent.did,
            intent.collection,
            intent.rkey,
            intent.uri,
            intent.action,
            intent.category,
            intent.created_us,
            intent.created_us // HOUR_US,
        ),
    )


async def logged_since(conn: Conn, did: str, since_us: int) -> int:
    row = await conn.fetchone(
        "SELECT count(*) FROM activity_intents WHERE did = ? AND created_us >= ?", (did, since_us)
    )
    return int(row[0]) if row else 0


async def mark_failed(conn: Conn, did: str, collection: str, rkey: str, error_code: str) -> bool:
    """Fail the caller's latest pending intent on that record; whether there was one."""
    changed = await conn.execute(
        "UPDATE activity_intents SET status = 'failed', error_code = ? WHERE id = ("
        " SELECT id FROM activity_intents WHERE did = ? AND collection = ? AND rkey = ? AND status = 'pending'"
        " ORDER BY created_us DESC LIMIT 1)",
        (error_code, did, collection, rkey),
    )
    return changed > 0


async def confirm(conn: Conn, uris: Sequence[str], actions: Sequence[str], now_us: int) -> int:
    """Confirm the pending intents of ``actions`` on ``uris`` logged within the last hour (the index has just
    written or removed those records); how many."""
    confirmed = 0
    for start in range(0, len(uris), _CHUNK):
        condition, args = any_of(conn.dialect, "uri", list(uris[start : start + _CHUNK]))
        kinds, kind_args = any_of(conn.dialect, "action", list(actions))
        confirmed += await conn.execute(
            "UPDATE activity_intents SET status = 'confirmed', confirmed_us = ?"
            f" WHERE status = 'pending' AND {condition} AND {kinds} AND created_us >= ?",
            [now_us, *args, *kind_args, now_us - CONFIRM_WINDOW_US],
        )
    return confirmed


async def prune(conn: Conn, before_us: int) -> None:
    await conn.execute("DELETE FROM activity_intents WHERE hour < ?", (before_us // HOUR_US,))


@dataclass(frozen=True)
class Correlation:
    category: str
    hour: int
    total: int
    confirmed: int
    failed: int
    timeout: int
    pending: int
    #: microseconds; None without a confirmed intent
    avg_latency: int | None
    p95_latency: int | None


async def correlation(conn: Conn, first_hour: int, now_us: int) -> list[Correlation]:
    """Per category and hour logged, from ``first_hour`` on: the intents by outcome, and the latencies of the
    confirmed ones (the mean, and the 95th percentile by nearest rank), newest hour first, then category."""
    timed_out = now_us - CONFIRM_WINDOW_US
    rows = await conn.fetchall(
        "SELECT category, hour, count(*),"
        " sum(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'pending' AND created_us < ? THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'confirmed' THEN confirmed_us - created_us ELSE 0 END)"
        " FROM activity_intents WHERE hour >= ? GROUP BY category, hour",
        (timed_out, first_hour),
    )
    p95 = {
        (str(r[0]), int(r[1])): int(r[2])
        for r in await conn.fetchall(
            "SELECT category, hour, latency FROM ("
            " SELECT category, hour, confirmed_us - created_us AS latency,"
            " row_number() OVER (PARTITION BY category, hour ORDER BY confirmed_us - created_us) AS n,"
            " count(*) OVER (PARTITION BY category, hour) AS total"
            " FROM activity_intents WHERE hour >= ? AND status = 'confirmed') ranked"
            " WHERE n = (95 * total + 99) / 100",
            (first_hour,),
        )
    }
    out = []
    for category, hour, total, confirmed, failed, timeout, latency_sum in rows:
        key = (str(category), int(hour))
        total, confirmed, failed, timeout = int(total), int(confirmed), int(failed), int(timeout)
        out.append(
            Correlation(
                category=key[0],
                hour=key[1],
                total=total,
                confirmed=confirmed,
                failed=failed,
                timeout=timeout,
                pending=total - confirmed - failed - timeout,
                avg_latency=int(latency_sum) // confirmed if confirmed else None,
                p95_latency=p95.get(key),
            )
        )
    out.sort(key=lambda c: (-c.hour, c.category))
    return out
