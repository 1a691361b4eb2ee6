"""Where fetched records become index rows: the record index and the live search index change together, and the
activity intents waiting for those records are confirmed in the same transaction (every write path comes here:
backfills, retries, the live indexer)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from chive_admin.clock import micros, utc_now
from chive_admin.store import activity, index, search
from chive_admin.store.index import IndexedRecord, UpsertResult
from chive_admin.store.sql import Conn
from chive_admin.telemetry.metrics import RECORDS_INGESTED


async def apply_records(conn: Conn, records: Sequence[IndexedRecord], now: str) -> UpsertResult:
    written: list[IndexedRecord] = []
    result = await index.upsert_records(conn, records, now, written)
    for collection, count in Counter(r.collection for r in written).items():
        RECORDS_INGESTED.labels(collection).inc(count)
    # only what changed: an unchanged eprint's search document is already right
    docs = [search.document_for(r.uri, r.value) for r in written if r.collection == search.EPRINT_COLLECTION]
    if docs:
        await search.upsert(conn, docs)
    if written:
        # the moment of this write, not ``now`` (a batch's stamp, which callers may set as they like)
        await activity.confirm(conn, [r.uri for r in written], ("create", "update"), micros(utc_now()))
    return result


async def remove_records(conn: Conn, uris: Sequence[str]) -> int:
    removed = await index.delete_records(conn, uris)
    if uris:
        await search.remove(conn, list(uris))
        await activity.confirm(conn, uris, ("delete",), micros(utc_now()))
    return removed
