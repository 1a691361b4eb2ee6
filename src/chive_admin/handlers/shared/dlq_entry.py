"""The entry an ``index`` (a position in queue order) names, or the InvalidRequest that says there is none."""

from __future__ import annotations

from chive_admin.store import dead_letters
from chive_admin.store.db import Database
from chive_admin.xrpc.errors import XRPCError


async def at_index(db: Database, index: int) -> dead_letters.DeadLetter:
    async with db.read() as conn:
        entry = await dead_letters.at_index(conn, index)
        total = await dead_letters.count(conn)
    if entry is None:
        raise XRPCError.invalid_request(f"No dead-letter entry at index {index} (the queue holds {total})")
    return entry
