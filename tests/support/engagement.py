"""Eprints in the index and engagement events at a chosen time, for the tests of recording and of the analytics."""

from __future__ import annotations

from datetime import UTC, datetime

from chive_admin._generated import ids
from chive_admin.store import engagement, index
from chive_admin.store.db import Database
from chive_admin.store.index import IndexedRecord

AUTHOR = "did:plc:engagementauthor00000000000"


def submission(rkey: str, title: str | None = None) -> IndexedRecord:
    value = {"title": title or f"On {rkey}", "submittedBy": AUTHOR, "createdAt": "2026-01-01T00:00:00.000Z"}
    return IndexedRecord.from_parts(AUTHOR, ids.PUB_CHIVE_EPRINT_SUBMISSION, rkey, f"bafy{rkey}", value)


async def index_eprints(db: Database, *records: IndexedRecord, handle: str | None = "author.test") -> None:
    async with db.write() as conn:
        await index.upsert_repo(conn, AUTHOR, "2026-01-01T00:00:00.000Z", handle=handle)
        await index.upsert_records(conn, list(records), "2026-01-01T00:00:00.000Z")


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


async def seen(db: Database) -> list[tuple[int, str, str, str]]:
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT hour, kind, uri, viewer FROM engagement_seen ORDER BY hour, kind, uri")
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


async def series(db: Database, uri: str | None, first: int, last: int) -> list[tuple[int, int, int]]:
    async with db.read() as conn:
        return [(s.hour, s.views, s.downloads) for s in await engagement.hourly_series(conn, uri, first, last)]


async def views(db: Database, per_hour: dict[str, dict[int, int]], kind: engagement.Kind = "view") -> None:
    """``k`` distinct viewers' views (or downloads) of each eprint in each hour, as the recorder counts them."""
    events = [
        engagement.Event(uri, kind, hour, f"viewer-{n}")
        for uri, hours in per_hour.items()
        for hour, k in hours.items()
        for n in range(k)
    ]
    async with db.write() as conn:
        await engagement.record(conn, events)
