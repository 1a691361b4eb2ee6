"""Where fetched records become index rows: the record index and the live search index change together."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from chive_admin.store import index, search
from chive_admin.store.index import IndexedRecord, UpsertResult


async def apply_records(conn: aiosqlite.Connection, records: Sequence[IndexedRecord], now: str) -> UpsertResult:
    result = await index.upsert_records(conn, records, now)
    docs = [search.document_for(r.uri, r.value) for r in records if r.collection == search.EPRINT_COLLECTION]
    if docs:
        await search.upsert(conn, docs)
    return result


async def remove_records(conn: aiosqlite.Connection, uris: Sequence[str]) -> int:
    removed = await index.delete_records(conn, uris)
    if uris:
        await search.remove(conn, list(uris))
    return removed
