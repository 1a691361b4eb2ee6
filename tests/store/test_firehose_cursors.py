"""The live indexer's cursors: per source, forward only, forgotten on demand; the lowest is getFirehoseStatus's."""

from __future__ import annotations

from chive_admin.store import firehose_cursors
from chive_admin.store.db import Database


async def test_cursors_move_forward_per_source_and_can_be_forgotten(db: Database) -> None:
    async with db.write() as conn:
        assert await firehose_cursors.lowest(conn) is None
        await firehose_cursors.advance(conn, "https://a.example", 10, "t1")
        await firehose_cursors.advance(conn, "https://a.example", 7, "t2")  # a late batch never moves it back
        await firehose_cursors.advance(conn, "https://b.example", 2**40, "t3")  # past 32 bits: relays are there
        assert await firehose_cursors.get(conn, "https://a.example") == 10
        assert await firehose_cursors.lowest(conn) == 10
        await firehose_cursors.clear(conn, "https://a.example")
        assert await firehose_cursors.get(conn, "https://a.example") is None
        await firehose_cursors.advance(conn, "https://a.example", 3, "t4")  # after FutureCursor: from the head
        assert await firehose_cursors.get(conn, "https://a.example") == 3
        assert await firehose_cursors.lowest(conn) == 3
